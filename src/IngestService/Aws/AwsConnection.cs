using System.Net;
using Amazon;
using Amazon.Runtime;
using Amazon.Runtime.Credentials;
using Microsoft.Extensions.Options;

namespace IngestService.Aws;

/// <summary>
/// What every AWS call of the node shares: one pooled <see cref="HttpClient"/>, the region and the
/// credentials. Credentials come from <see cref="FixedCredentials"/> when set (tests, provisioning with other
/// keys), else from the SDK's default chain (env vars, web identity, profile, container, instance
/// metadata), which caches them and refreshes session credentials before they expire.
/// </summary>
public sealed class AwsConnection : IDisposable
{
    private readonly AWSCredentials? _fixed;
    private readonly string? _serviceUrl;

    public AwsConnection(IOptions<AwsOptions> options, AWSCredentials? credentials = null)
        : this(options, credentials, null)
    {
    }

    /// <param name="options">Region and endpoint.</param>
    /// <param name="credentials">Fixed credentials, or null for the default chain.</param>
    /// <param name="handler">Replaces the pooled socket handler (tests).</param>
    internal AwsConnection(IOptions<AwsOptions> options, AWSCredentials? credentials, HttpMessageHandler? handler)
    {
        var o = options.Value;
        _serviceUrl = string.IsNullOrWhiteSpace(o.ServiceUrl) ? null : o.ServiceUrl;
        Region = ResolveRegion(o.Region);
        _fixed = credentials;
        Http = new HttpClient(
            handler ?? new SocketsHttpHandler
            {
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                PooledConnectionIdleTimeout = TimeSpan.FromSeconds(50),
                MaxConnectionsPerServer = 64,
                AutomaticDecompression = DecompressionMethods.None,
                UseCookies = false,
                UseProxy = false,
            },
            disposeHandler: true)
        {
            // The ack deadline (the caller's token) bounds each call, not a client-wide timeout.
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    public RegionEndpoint Region { get; }

    public HttpClient Http { get; }

    /// <summary>The fixed credentials when given, else null (the default chain).</summary>
    public AWSCredentials? FixedCredentials => _fixed;

    public async Task<AWSCredentials> GetCredentialsAsync()
    {
        if (_fixed is not null)
        {
            return _fixed;
        }

        // The SDK's resolver caches what it found process-wide and refreshes expiring session credentials.
        return await DefaultAWSCredentialsIdentityResolver.GetCredentialsAsync(null)
            ?? throw new AwsServiceException("MissingCredentials", "No AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile, or run with a task/instance role.", null);
    }

    /// <summary>
    /// <c>Aws:ServiceUrl</c>, then <c>AWS_ENDPOINT_URL_{SERVICE}</c>, then <c>AWS_ENDPOINT_URL</c>, else the
    /// regional AWS endpoint, as the SDKs resolve it.
    /// </summary>
    public Uri EndpointFor(string service, string envSuffix) => ResolveEndpoint(_serviceUrl, service, envSuffix, Region, Environment.GetEnvironmentVariable);

    /// <summary>True when any endpoint override applies (emulators want path-style S3 addressing).</summary>
    public bool HasEndpointOverride(string envSuffix) => Override(_serviceUrl, envSuffix, Environment.GetEnvironmentVariable) is not null;

    internal static Uri ResolveEndpoint(string? serviceUrl, string service, string envSuffix, RegionEndpoint region, Func<string, string?> environment) =>
        new(Override(serviceUrl, envSuffix, environment) ?? $"https://{service}.{region.SystemName}.{region.PartitionDnsSuffix}");

    private static string? Override(string? serviceUrl, string envSuffix, Func<string, string?> environment) =>
        NonEmpty(serviceUrl) ?? NonEmpty(environment($"AWS_ENDPOINT_URL_{envSuffix}")) ?? NonEmpty(environment("AWS_ENDPOINT_URL"));

    public void Dispose()
    {
        Http.Dispose();
    }

    private static RegionEndpoint ResolveRegion(string? configured)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return RegionEndpoint.GetBySystemName(configured);
        }

        // Not instance metadata: a lookup that can hang for seconds off EC2; ECS and Lambda set AWS_REGION.
        return FallbackRegionFactory.GetRegionEndpoint(includeInstanceMetadata: false)
            ?? throw new InvalidOperationException("No AWS region: set Aws:Region (or AWS_REGION).");
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
