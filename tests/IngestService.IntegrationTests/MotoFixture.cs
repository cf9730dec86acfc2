using System.Diagnostics;
using System.Net.Sockets;
using System.Net;
using System.Text.Json.Nodes;
using System.Text;
using System.Xml.Linq;
using Amazon.Runtime.Signing;
using Amazon.Runtime;
using Amazon.S3;
using IngestService.Aws;
using IngestService.Delivery;
using IngestService.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace IngestService.IntegrationTests;

/// <summary>
/// A moto server for the whole suite, with IAM enforced: the first actions (unauthenticated) create an admin
/// user and a service user whose policy is <c>deploy/iam-policy.json</c>; after them moto verifies every
/// SigV4 signature and policy. Then the bucket and streams are provisioned with the admin user.
/// Uses <c>AWS_ENDPOINT_URL</c> when set (a moto server started with
/// <c>INITIAL_NO_AUTH_ACTION_COUNT=6</c>), else starts <c>moto_server</c> itself.
/// </summary>
public class MotoFixture : IAsyncLifetime
{
    public const string Region = "us-east-1";
    public const string AccountId = "123456789012";

    /// <summary>CreateUser, CreateAccessKey and PutUserPolicy for each of the two users.</summary>
    private const int UnauthenticatedActions = 6;

    private Process? _moto;

    public Uri Endpoint { get; private set; } = null!;

    public string Bucket { get; } = "ingest-it";

    public string DeliveryStream { get; } = "ingest-it-raw";

    public string KinesisStream { get; } = "ingest-it-events";

    public BasicAWSCredentials Admin { get; private set; } = null!;

    public BasicAWSCredentials Service { get; private set; } = null!;

    public string ServiceAccessKeyId { get; private set; } = null!;

    public string MotoLog { get; private set; } = "";

    /// <summary>Whether moto checks signatures and IAM policies.</summary>
    protected virtual bool EnforceIam => true;

    public async Task InitializeAsync()
    {
        var external = Environment.GetEnvironmentVariable("AWS_ENDPOINT_URL");
        if (!string.IsNullOrWhiteSpace(external) && EnforceIam)
        {
            Endpoint = new Uri(external);
        }
        else
        {
            Endpoint = await StartMotoAsync();
        }

        if (EnforceIam)
        {
            await CreateUsersAsync();
        }
        else
        {
            Admin = Service = new BasicAWSCredentials("AKIAOPENMOTO00000000", "open");
        }

        var output = new StringWriter();
        var code = await Provisioning.RunAsync(Configuration(Endpoint, new Dictionary<string, string?> { ["Provision:BufferingSeconds"] = "0" }), output, Admin);
        Assert.True(code == 0, $"provisioning failed: {output}");
    }

    public Task DisposeAsync()
    {
        if (_moto is { HasExited: false })
        {
            _moto.Kill(entireProcessTree: true);
            _moto.WaitForExit(5000);
        }

        _moto?.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>The <c>Aws</c> settings for this server, with <paramref name="serviceUrl"/> as the endpoint.</summary>
    public IConfiguration Configuration(Uri serviceUrl, Dictionary<string, string?>? extra = null) =>
        new ConfigurationBuilder().AddInMemoryCollection(Settings(serviceUrl, extra)).Build();

    /// <summary>The <c>Aws</c> settings for this server, with <paramref name="serviceUrl"/> as the endpoint, then <paramref name="extra"/>.</summary>
    public Dictionary<string, string?> Settings(Uri serviceUrl, Dictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Aws:ServiceUrl"] = serviceUrl.ToString(),
            ["Aws:Region"] = Region,
            ["Aws:Bucket"] = Bucket,
            ["Aws:DeliveryStream"] = DeliveryStream,
            ["Aws:KinesisStream"] = KinesisStream,
        };
        foreach (var (k, v) in extra ?? [])
        {
            settings[k] = v;
        }

        return settings;
    }

    public AwsConnection Connection(AWSCredentials credentials, Uri? serviceUrl = null) =>
        new(Options.Create(new AwsOptions { ServiceUrl = (serviceUrl ?? Endpoint).ToString(), Region = Region, Bucket = Bucket, DeliveryStream = DeliveryStream, KinesisStream = KinesisStream }), credentials);

    public AmazonS3Client AdminS3() => S3ObjectStore.CreateClient(Connection(Admin));

    private async Task<Uri> StartMotoAsync()
    {
        var port = FreePort();
        var start = new ProcessStartInfo("moto_server", $"-H 127.0.0.1 -p {port}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (EnforceIam)
        {
            start.Environment["INITIAL_NO_AUTH_ACTION_COUNT"] = UnauthenticatedActions.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        var log = new StringBuilder();
        try
        {
            _moto = Process.Start(start) ?? throw new InvalidOperationException("moto_server did not start");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException(
                "The AWS integration tests need moto_server on PATH (pip install 'moto[server]==5.2.1') or AWS_ENDPOINT_URL pointing at a running " +
                $"moto server started with INITIAL_NO_AUTH_ACTION_COUNT={UnauthenticatedActions}. ({ex.Message})", ex);
        }

        _moto.OutputDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        _moto.ErrorDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        _moto.BeginOutputReadLine();
        _moto.BeginErrorReadLine();

        // A TCP probe, not an HTTP call: moto counts every action towards the unauthenticated ones.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (_moto.HasExited)
            {
                break;
            }

            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port);
                return new Uri($"http://127.0.0.1:{port}");
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }

        lock (log)
        {
            MotoLog = log.ToString();
        }

        throw new InvalidOperationException($"moto_server did not listen on port {port}: {MotoLog}");
    }

    private async Task CreateUsersAsync()
    {
        using var http = new HttpClient();
        var anonymous = new BasicAWSCredentials("AKIAANONYMOUS0000000", "anonymous");
        Admin = await CreateUserAsync(http, anonymous, "ingest-admin", """{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}""");
        Service = await CreateUserAsync(http, anonymous, "ingest-service", ServicePolicy());
    }

    /// <summary>
    /// <c>deploy/iam-policy.json</c> with its placeholders filled in. moto 5.2.1 authorizes Firehose and
    /// Kinesis actions against the resource <c>*</c> only (it evaluates resources for S3 alone), so those
    /// statements get <c>*</c> here; their actions are still enforced, and the S3 statements keep their ARNs.
    /// </summary>
    private string ServicePolicy()
    {
        var text = File.ReadAllText(Path.Combine(RepositoryRoot(), "deploy", "iam-policy.json"))
            .Replace("${Bucket}", Bucket, StringComparison.Ordinal)
            .Replace("${DeliveryStream}", DeliveryStream, StringComparison.Ordinal)
            .Replace("${KinesisStream}", KinesisStream, StringComparison.Ordinal)
            .Replace("${Region}", Region, StringComparison.Ordinal)
            .Replace("${AccountId}", AccountId, StringComparison.Ordinal);
        Assert.DoesNotContain("${", text, StringComparison.Ordinal);
        var policy = JsonNode.Parse(text)!;
        foreach (var statement in policy["Statement"]!.AsArray())
        {
            var resource = statement!["Resource"]!.ToString();
            if (resource.StartsWith("arn:aws:firehose:", StringComparison.Ordinal) || resource.StartsWith("arn:aws:kinesis:", StringComparison.Ordinal))
            {
                statement["Resource"] = "*";
            }
        }

        return policy.ToJsonString();
    }

    private async Task<BasicAWSCredentials> CreateUserAsync(HttpClient http, AWSCredentials signer, string name, string policy)
    {
        await IamAsync(http, signer, new() { ["Action"] = "CreateUser", ["UserName"] = name });
        var key = await IamAsync(http, signer, new() { ["Action"] = "CreateAccessKey", ["UserName"] = name });
        XNamespace ns = key.Root!.Name.Namespace;
        var id = key.Descendants(ns + "AccessKeyId").Single().Value;
        var secret = key.Descendants(ns + "SecretAccessKey").Single().Value;
        await IamAsync(http, signer, new() { ["Action"] = "PutUserPolicy", ["UserName"] = name, ["PolicyName"] = $"{name}-policy", ["PolicyDocument"] = policy });
        if (name == "ingest-service")
        {
            ServiceAccessKeyId = id;
        }

        return new BasicAWSCredentials(id, secret);
    }

    /// <summary>IAM speaks the query protocol: a signed form POST answered with XML.</summary>
    private async Task<XDocument> IamAsync(HttpClient http, AWSCredentials credentials, Dictionary<string, string> form)
    {
        form["Version"] = "2010-05-08";
        var body = Encoding.UTF8.GetBytes(string.Join('&', form.Select(p => $"{Uri.EscapeDataString(p.Key)}={Uri.EscapeDataString(p.Value)}")));
        var signing = new AWSSigningRequest { HttpMethod = HttpMethod.Post, RequestUri = Endpoint, Content = body };
        signing.Headers["content-type"] = "application/x-www-form-urlencoded";
        var signed = await AWSSigV4Signer.SignAsync(signing, new AWSSigV4Parameters { Credentials = credentials, Region = Amazon.RegionEndpoint.USEast1, Service = "iam" }, CancellationToken.None);
        using var request = new HttpRequestMessage(HttpMethod.Post, Endpoint) { Content = new ByteArrayContent(body) };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/x-www-form-urlencoded");
        foreach (var (k, v) in signed.Headers)
        {
            request.Headers.TryAddWithoutValidation(k, v);
        }

        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"IAM {form["Action"]} failed: {(int)response.StatusCode} {text}");
        return XDocument.Parse(text);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "IngestService.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("IngestService.sln not found above the test binaries");
    }
}

/// <summary>
/// moto without signature checks, for the regroup tests: moto 5.2.1 with IAM enforced rejects the signature
/// of every S3 request whose query string holds a <c>/</c> (botocore's as well as ours), and regrouping lists
/// by prefix (<c>raw/</c>, <c>sensors/{id}/</c>) and starts after keys that all hold one. The IAM-enforced
/// fixture above still proves the service's signing and policy on every call this one cannot.
/// </summary>
public sealed class OpenMotoFixture : MotoFixture
{
    protected override bool EnforceIam => false;
}

[CollectionDefinition(OpenMotoCollection.Name)]
public sealed class OpenMotoCollection : ICollectionFixture<OpenMotoFixture>
{
    public const string Name = "open moto";
}

[CollectionDefinition(Name)]
public sealed class MotoCollection : ICollectionFixture<MotoFixture>
{
    public const string Name = "moto";
}
