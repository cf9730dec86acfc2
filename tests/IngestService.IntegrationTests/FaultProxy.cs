using System.IO.Compression;
using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace IngestService.IntegrationTests;

/// <summary>One PutRecordBatch / PutRecords the proxy saw: each entry's data as text, and what it answered.</summary>
public sealed record ProxyCall(string Operation, IReadOnlyList<string> Entries, int Status, IReadOnlyList<bool> FailedEntries);

/// <summary>
/// A forwarding proxy between the service and moto that can fail chosen entries of PutRecordBatch /
/// PutRecords answers (rewriting the response; moto did store them, as a real partial failure may also
/// leave duplicates), answer a whole call with an error without forwarding it, or delay it. Requests are
/// forwarded byte for byte with their Host header, so SigV4 signatures still verify at moto.
/// </summary>
public sealed class FaultProxy : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly HttpClient _upstream = new(new SocketsHttpHandler { UseProxy = false, AutomaticDecompression = DecompressionMethods.None, UseCookies = false });
    private readonly Uri _target;

    private FaultProxy(Uri target, WebApplication app)
    {
        _target = target;
        _app = app;
    }

    public Uri Url { get; private set; } = null!;

    public ConcurrentQueue<ProxyCall> Calls { get; } = new();

    /// <summary>(operation, entry data) → fail this entry with a retryable error code.</summary>
    public Func<string, string, bool> FailEntry { get; set; } = (_, _) => false;

    /// <summary>(operation, entries) → answer this status instead of forwarding, or null.</summary>
    public Func<string, IReadOnlyList<string>, int?> FailCall { get; set; } = (_, _) => null;

    /// <summary>operation → the AWS error type a failed call names (throttling looks different per service).</summary>
    public Func<string, string> CallErrorType { get; set; } = _ => "InternalFailure";

    /// <summary>(operation, entries) → hold the call this long before forwarding.</summary>
    public Func<string, IReadOnlyList<string>, TimeSpan> Delay { get; set; } = (_, _) => TimeSpan.Zero;

    public static async Task<FaultProxy> StartAsync(Uri target)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var proxy = new FaultProxy(target, app);
        app.Run(proxy.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        proxy.Url = new Uri(address);
        return proxy;
    }

    /// <summary>Calls of <paramref name="operation"/> with an entry containing <paramref name="marker"/>.</summary>
    public List<ProxyCall> CallsWith(string operation, string marker) =>
        [.. Calls.Where(c => c.Operation == operation && c.Entries.Any(e => e.Contains(marker, StringComparison.Ordinal)))];

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _upstream.Dispose();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        using var body = new MemoryStream();
        await request.Body.CopyToAsync(body);
        var bytes = body.ToArray();
        var target = request.Headers["X-Amz-Target"].ToString();
        var operation = target.Contains('.', StringComparison.Ordinal) ? target[(target.LastIndexOf('.') + 1)..] : "";
        var isPut = operation is "PutRecordBatch" or "PutRecords";
        var entries = isPut ? DecodeEntries(bytes) : [];

        if (isPut)
        {
            var delay = Delay(operation, entries);
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay);
            }

            if (FailCall(operation, entries) is { } status)
            {
                Calls.Enqueue(new ProxyCall(operation, entries, status, [.. entries.Select(_ => true)]));
                context.Response.StatusCode = status;
                context.Response.ContentType = "application/x-amz-json-1.1";
                await context.Response.WriteAsync($$"""{"__type":"{{CallErrorType(operation)}}","message":"injected by the test proxy"}""");
                return;
            }
        }

        using var forward = new HttpRequestMessage(new HttpMethod(request.Method), new Uri(_target, request.Path.Value + request.QueryString.Value));
        forward.Content = new ByteArrayContent(bytes);
        foreach (var (name, values) in request.Headers)
        {
            if (name.Equals("Host", StringComparison.OrdinalIgnoreCase) || name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase)
                || name.Equals("Connection", StringComparison.OrdinalIgnoreCase) || name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)
                || name.Equals("Expect", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (!forward.Headers.TryAddWithoutValidation(name, values.ToArray()))
            {
                forward.Content.Headers.TryAddWithoutValidation(name, values.ToArray());
            }
        }

        // The signature covers the Host the client used: the proxy's.
        forward.Headers.Host = request.Host.Value;
        using var response = await _upstream.SendAsync(forward, HttpCompletionOption.ResponseContentRead);
        var answer = await response.Content.ReadAsByteArrayAsync();
        var failed = new bool[entries.Count];
        if (isPut && response.IsSuccessStatusCode)
        {
            answer = Rewrite(operation, entries, answer, failed);
            Calls.Enqueue(new ProxyCall(operation, entries, (int)response.StatusCode, failed));
        }
        else if (isPut)
        {
            Calls.Enqueue(new ProxyCall(operation, entries, (int)response.StatusCode, [.. entries.Select(_ => true)]));
        }

        context.Response.StatusCode = (int)response.StatusCode;
        foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
        {
            if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase) || name.Equals("Connection", StringComparison.OrdinalIgnoreCase)
                || name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            context.Response.Headers[name] = values.ToArray();
        }

        if (HttpMethods.IsHead(request.Method))
        {
            context.Response.ContentLength = response.Content.Headers.ContentLength;
            return;
        }

        context.Response.ContentLength = answer.Length;
        await context.Response.Body.WriteAsync(answer);
    }

    private byte[] Rewrite(string operation, IReadOnlyList<string> entries, byte[] answer, bool[] failed)
    {
        var (arrayName, countName, code) = operation == "PutRecordBatch"
            ? ("RequestResponses", "FailedPutCount", "ServiceUnavailableException")
            : ("Records", "FailedRecordCount", "ProvisionedThroughputExceededException");
        var json = JsonNode.Parse(answer)!;
        var results = json[arrayName]!.AsArray();
        var count = 0;
        for (var i = 0; i < entries.Count; i++)
        {
            if (FailEntry(operation, entries[i]))
            {
                results[i] = new JsonObject { ["ErrorCode"] = code, ["ErrorMessage"] = "injected by the test proxy" };
                failed[i] = true;
            }

            if (results[i]!["ErrorCode"] is not null)
            {
                count++;
            }
        }

        json[countName] = count;
        return Encoding.UTF8.GetBytes(json.ToJsonString());
    }

    /// <summary>Each record as text; a gzip member (Firehose under <c>Aws:FirehoseCompression=Gzip</c>) is decompressed first.</summary>
    private static List<string> DecodeEntries(byte[] body)
    {
        var json = JsonNode.Parse(body)!;
        return [.. json["Records"]!.AsArray().Select(r => Encoding.UTF8.GetString(Plain(Convert.FromBase64String(r!["Data"]!.GetValue<string>()))))];
    }

    public static byte[] Plain(byte[] data)
    {
        if (data is not [0x1f, 0x8b, ..])
        {
            return data;
        }

        using var gzip = new GZipStream(new MemoryStream(data), CompressionMode.Decompress);
        using var plain = new MemoryStream();
        gzip.CopyTo(plain);
        return plain.ToArray();
    }
}
