using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace IngestService.Auth;

/// <summary>The three scopes and what each lets a caller do.</summary>
public static class Scopes
{
    /// <summary>Write events, only for the sensor named in the token's <c>sub</c>.</summary>
    public const string Ingest = "ingest";

    /// <summary>Read sensor-days and events.</summary>
    public const string Read = "read";

    /// <summary>Operate the node, such as running a regroup pass.</summary>
    public const string Admin = "admin";
}

public static class AuthSetup
{
    /// <summary>
    /// Binds <c>Auth</c> once: the mode decides here which services exist, and everything after reads the typed
    /// options. <paramref name="anonymousNeedsConsent"/> refuses <c>Auth:Mode=None</c> without <c>Auth:AllowAnonymous</c>.
    /// </summary>
    public static IServiceCollection AddIngestAuth(this IServiceCollection services, IConfiguration configuration, bool anonymousNeedsConsent)
    {
        services.AddOptions<AuthOptions>().BindConfiguration(AuthOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<AuthOptions>>(new AuthOptionsValidator(anonymousNeedsConsent));
        var auth = configuration.GetSection(AuthOptions.Section).Get<AuthOptions>() ?? new AuthOptions();
        if (auth.Mode != AuthMode.Jwt)
        {
            // No authentication services at all: WebApplication adds the authentication and authorization
            // middleware by itself when they are registered, and with them every request paid for a DI scope.
            return services;
        }

        services.AddSingleton<IAuthorizationHandler, ScopeHandler>();
        services.AddAuthorizationBuilder()
            .AddPolicy(Scopes.Ingest, p => p.AddRequirements(new ScopeRequirement(Scopes.Ingest, OwnSensorOnly: true)))
            .AddPolicy(Scopes.Read, p => p.AddRequirements(new ScopeRequirement(Scopes.Read, OwnSensorOnly: false)))
            .AddPolicy(Scopes.Admin, p => p.AddRequirements(new ScopeRequirement(Scopes.Admin, OwnSensorOnly: false)));
        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(options =>
        {
            // Keep claim names as issued: the contract speaks of `sub` and `scope`.
            options.MapInboundClaims = false;
            if (!string.IsNullOrWhiteSpace(auth.Authority))
            {
                options.Authority = auth.Authority;
                options.Audience = auth.Audience;
            }
            else
            {
                options.TokenValidationParameters = ValidationParameters(auth);
            }

            options.Events = new JwtBearerEvents
            {
                OnChallenge = async context =>
                {
                    context.HandleResponse();
                    await WriteProblemAsync(context.HttpContext, StatusCodes.Status401Unauthorized, "Authentication required",
                        context.AuthenticateFailure is null
                            ? "Send a bearer token in the Authorization header (`Authorization: Bearer <token>`)."
                            : "The bearer token was not accepted: it is expired, malformed, or signed with a key this node does not trust.");
                },
                OnForbidden = context => WriteProblemAsync(context.HttpContext, StatusCodes.Status403Forbidden, "Forbidden",
                    context.HttpContext.Items[ScopeHandler.DenialKey] as string ?? "The token does not allow this request."),
            };
        });
        return services;
    }

    /// <summary>The authentication middleware, only where <see cref="AddIngestAuth"/> registered its services.</summary>
    public static WebApplication UseIngestAuth(this WebApplication app)
    {
        if (app.Services.GetRequiredService<IOptions<AuthOptions>>().Value.Mode == AuthMode.Jwt)
        {
            app.UseAuthentication();
            app.UseAuthorization();
        }

        return app;
    }

    /// <summary>Applies a scope's policy to a group, unless the node runs without auth.</summary>
    public static TBuilder RequireScope<TBuilder>(this TBuilder builder, IEndpointRouteBuilder routes, string scope)
        where TBuilder : IEndpointConventionBuilder
    {
        var auth = routes.ServiceProvider.GetRequiredService<IOptions<AuthOptions>>().Value;
        return auth.Mode == AuthMode.Jwt ? builder.RequireAuthorization(scope) : builder;
    }

    internal static TokenValidationParameters ValidationParameters(AuthOptions auth) => new()
    {
        ValidIssuer = auth.Issuer,
        ValidAudience = auth.Audience ?? auth.Issuer,
        IssuerSigningKeys = [.. auth.SigningKeys().Select(k => new SymmetricSecurityKey(k))],
        ClockSkew = TimeSpan.FromMinutes(1),
    };

    private static async Task WriteProblemAsync(HttpContext context, int status, string title, string detail)
    {
        context.Response.StatusCode = status;
        var problems = context.RequestServices.GetRequiredService<IProblemDetailsService>();
        var problem = new ProblemDetailsContext { HttpContext = context, ProblemDetails = { Status = status, Title = title, Detail = detail } };
        // The default writer declines when Accept names only another type (text/csv, NDJSON); the client still
        // gets the problem rather than a 500.
        if (!await problems.TryWriteAsync(problem))
        {
            await context.Response.WriteAsJsonAsync(problem.ProblemDetails, (JsonSerializerOptions?)null, "application/problem+json");
        }
    }
}

internal sealed record ScopeRequirement(string Scope, bool OwnSensorOnly) : IAuthorizationRequirement;

/// <summary>
/// Checks the <c>scope</c> claim (space-separated, OAuth 2.0 style, or <c>scp</c>) and, for writes, that
/// <c>sub</c> is the sensor in the path: a stolen sensor token can write only that sensor.
/// </summary>
internal sealed class ScopeHandler : AuthorizationHandler<ScopeRequirement>
{
    public const string DenialKey = "ingest.auth.denial";

    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, ScopeRequirement requirement)
    {
        var http = context.Resource as HttpContext;
        var scopes = context.User.FindAll("scope").Concat(context.User.FindAll("scp"))
            .SelectMany(c => c.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        if (!scopes.Contains(requirement.Scope, StringComparer.Ordinal))
        {
            Deny(http, $"The token lacks scope '{requirement.Scope}'; ask for a token that carries it.");
            return Task.CompletedTask;
        }

        if (requirement.OwnSensorOnly)
        {
            var sensor = http?.GetRouteValue("sensorId") as string;
            var subject = context.User.FindFirstValue("sub");
            if (sensor is null || !string.Equals(subject, sensor, StringComparison.Ordinal))
            {
                Deny(http, $"This token belongs to sensor '{subject}' and may write only /v1/sensors/{subject}/events.");
                return Task.CompletedTask;
            }
        }

        context.Succeed(requirement);
        return Task.CompletedTask;
    }

    private static void Deny(HttpContext? http, string detail)
    {
        if (http is not null)
        {
            http.Items[DenialKey] = detail;
        }
    }
}

/// <summary><c>dotnet run --project src/IngestService -- token --sensor s1 --scope ingest --days 365</c>.</summary>
public static class TokenCommand
{
    public static int Run(string[] args, IConfiguration configuration, TextWriter output, TextWriter error)
    {
        var auth = configuration.GetSection(AuthOptions.Section).Get<AuthOptions>() ?? new AuthOptions();
        var keys = string.IsNullOrWhiteSpace(auth.SigningKey) ? [] : auth.SigningKeys();
        if (keys.Length == 0)
        {
            error.WriteLine("token: set Auth:SigningKey (base64, at least 32 bytes; e.g. Auth__SigningKey=$(openssl rand -base64 32)) to mint tokens.");
            return 2;
        }

        var sensor = Option(args, "--sensor");
        var scope = Option(args, "--scope") ?? Scopes.Ingest;
        var days = double.TryParse(Option(args, "--days"), System.Globalization.CultureInfo.InvariantCulture, out var d) ? d : 365;
        var unknown = scope.Split(' ', ',').Except([Scopes.Ingest, Scopes.Read, Scopes.Admin]).ToArray();
        if (unknown.Length > 0 || (scope.Contains(Scopes.Ingest, StringComparison.Ordinal) && sensor is null))
        {
            error.WriteLine("usage: token --sensor <sensorId> --scope <ingest|read|admin>[,…] [--days 365]  (ingest needs --sensor)");
            return 2;
        }

        var handler = new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler();
        var claims = new Dictionary<string, object> { ["scope"] = scope.Replace(',', ' ') };
        if (sensor is not null)
        {
            claims["sub"] = sensor;
        }

        output.WriteLine(handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = auth.Issuer,
            Audience = auth.Audience ?? auth.Issuer,
            Claims = claims,
            Expires = DateTime.UtcNow.AddDays(days),
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(keys[0]), SecurityAlgorithms.HmacSha256),
        }));
        return 0;
    }

    private static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
