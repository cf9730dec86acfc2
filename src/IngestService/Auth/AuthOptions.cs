using Microsoft.Extensions.Options;

namespace IngestService.Auth;

public enum AuthMode
{
    /// <summary>Anyone who can reach the node may write and read.</summary>
    None,

    /// <summary>Bearer tokens: scopes <c>ingest</c>, <c>read</c>, <c>admin</c>; a sensor writes only itself.</summary>
    Jwt,
}

public sealed class AuthOptions
{
    public const string Section = "Auth";

    /// <summary>Default <c>None</c>.</summary>
    public AuthMode Mode { get; set; } = AuthMode.None;

    /// <summary>
    /// Base64 HMAC keys of at least 32 bytes, separated by commas: the first signs tokens minted by the
    /// <c>token</c> command, all of them verify, so a new key can be added before the old one is retired.
    /// </summary>
    public string? SigningKey { get; set; }

    /// <summary>OIDC authority whose published keys verify tokens, instead of <see cref="SigningKey"/>.</summary>
    public string? Authority { get; set; }

    /// <summary>Expected audience. Default <c>ingest-service</c> for self-hosted keys; required with an authority.</summary>
    public string? Audience { get; set; }

    /// <summary>Issuer of self-hosted tokens. Default <c>ingest-service</c>.</summary>
    public string Issuer { get; set; } = "ingest-service";

    /// <summary>Lets the <c>Aws</c> backend run with <see cref="AuthMode.None"/>. Default false.</summary>
    public bool AllowAnonymous { get; set; }

    public byte[][] SigningKeys() =>
        [.. (SigningKey ?? string.Empty).Split([',', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Convert.FromBase64String)];
}

/// <summary>Start-up checks that name the key to fix.</summary>
/// <param name="anonymousNeedsConsent">True on the <c>Aws</c> backend, where anonymous writes reach an AWS account.</param>
internal sealed class AuthOptionsValidator(bool anonymousNeedsConsent) : IValidateOptions<AuthOptions>
{
    public ValidateOptionsResult Validate(string? name, AuthOptions options)
    {
        if (options.Mode == AuthMode.None)
        {
            return anonymousNeedsConsent && !options.AllowAnonymous
                ? ValidateOptionsResult.Fail("Ingest:Backend=Aws with Auth:Mode=None would let anyone write to your AWS account: set Auth:Mode=Jwt, or Auth:AllowAnonymous=true if a gateway in front authenticates.")
                : ValidateOptionsResult.Success;
        }

        if (string.IsNullOrWhiteSpace(options.SigningKey) == string.IsNullOrWhiteSpace(options.Authority))
        {
            return ValidateOptionsResult.Fail("Auth:Mode=Jwt needs exactly one of Auth:SigningKey (base64, at least 32 bytes) or Auth:Authority (an OIDC issuer URL).");
        }

        if (!string.IsNullOrWhiteSpace(options.Authority) && string.IsNullOrWhiteSpace(options.Audience))
        {
            return ValidateOptionsResult.Fail("Auth:Authority needs Auth:Audience, the audience your identity provider puts in tokens for this service.");
        }

        if (!string.IsNullOrWhiteSpace(options.SigningKey))
        {
            try
            {
                if (options.SigningKeys().Any(k => k.Length < 32))
                {
                    return ValidateOptionsResult.Fail("Auth:SigningKey: every key must be at least 32 bytes once base64-decoded (e.g. `openssl rand -base64 32`).");
                }
            }
            catch (FormatException)
            {
                return ValidateOptionsResult.Fail("Auth:SigningKey is not base64; give one or more base64 keys separated by commas.");
            }
        }

        return ValidateOptionsResult.Success;
    }
}
