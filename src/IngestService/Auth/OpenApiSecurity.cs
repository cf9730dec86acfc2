using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;

namespace IngestService.Auth;

/// <summary>Describes the bearer scheme in <c>/openapi/v1.json</c> when the node requires tokens.</summary>
internal sealed class OpenApiSecurity(IOptions<AuthOptions> auth) : IOpenApiDocumentTransformer
{
    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Info.Title = "IngestService";
        document.Info.Description = "Durable ingest of IoT sensor events; sensor-day reads. Every error is application/problem+json.";
        if (auth.Value.Mode != AuthMode.Jwt)
        {
            return Task.CompletedTask;
        }

        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes["bearer"] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            BearerFormat = "JWT",
            Description = "Scopes in the `scope` claim: `ingest` (sub must equal the path's sensorId), `read`, `admin`.",
        };
        document.Security ??= [];
        document.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("bearer", document)] = [] });
        return Task.CompletedTask;
    }
}
