using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Amazon.Runtime.Signing;

namespace IngestService.Aws;

/// <summary>
/// One AWS JSON 1.1 service (Firehose, Kinesis): <c>POST /</c> with <c>X-Amz-Target</c>, signed with
/// SigV4 by AWSSDK.Core's public signer. Hand-written because the registry serves no AWSSDK.KinesisFirehose
/// or AWSSDK.Kinesis; the typed clients on top keep the SDK's method names so those packages can replace it.
/// </summary>
public sealed class AwsJsonClient
{
    private static readonly MediaTypeHeaderValue JsonContentType = new("application/x-amz-json-1.1");

    private readonly AwsConnection _connection;
    private readonly string _signingService;
    private readonly string _targetPrefix;

    public AwsJsonClient(AwsConnection connection, string signingService, string endpointEnvSuffix, string targetPrefix)
    {
        _connection = connection;
        _signingService = signingService;
        _targetPrefix = targetPrefix;
        Endpoint = connection.EndpointFor(signingService, endpointEnvSuffix);
    }

    public Uri Endpoint { get; }

    /// <summary>A control-plane call: the request and the response through their source-generated JSON contracts.</summary>
    public Task<TResponse> SendAsync<TRequest, TResponse>(string operation, TRequest request, JsonTypeInfo<TRequest> requestType, JsonTypeInfo<TResponse> responseType, CancellationToken cancellationToken) =>
        SendAsync(operation, JsonSerializer.SerializeToUtf8Bytes(request, requestType), p => JsonSerializer.Deserialize(p, responseType)!, cancellationToken);

    /// <summary>
    /// Sends <paramref name="body"/> as <paramref name="operation"/> and parses the 2xx answer; any other
    /// answer or a transport failure becomes an <see cref="AwsServiceException"/> that says whether to retry.
    /// </summary>
    public async Task<T> SendAsync<T>(string operation, ReadOnlyMemory<byte> body, Func<byte[], T> parse, CancellationToken cancellationToken)
    {
        var credentials = await _connection.GetCredentialsAsync();
        var target = $"{_targetPrefix}.{operation}";

        // The payload hash is handed to the signer so it never copies the (pooled, possibly large) body.
        var signing = new AWSSigningRequest { HttpMethod = HttpMethod.Post, RequestUri = Endpoint };
        signing.Headers["content-type"] = JsonContentType.MediaType!;
        signing.Headers["x-amz-target"] = target;
        signing.Headers["x-amz-content-sha256"] = Convert.ToHexStringLower(SHA256.HashData(body.Span));
        var signed = await AWSSigV4Signer.SignAsync(
            signing,
            new AWSSigV4Parameters { Credentials = credentials, Region = _connection.Region, Service = _signingService },
            cancellationToken);

        using var request = new HttpRequestMessage(HttpMethod.Post, Endpoint) { Content = new ReadOnlyMemoryContent(body) };
        request.Content.Headers.ContentType = JsonContentType;
        request.Headers.TryAddWithoutValidation("X-Amz-Target", target);
        foreach (var (name, value) in signed.Headers)
        {
            if (!name.Equals("content-type", StringComparison.OrdinalIgnoreCase))
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }
        }

        HttpResponseMessage response;
        byte[] payload;
        try
        {
            response = await _connection.Http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
            payload = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        }
        catch (HttpRequestException ex)
        {
            throw new AwsServiceException("NetworkError", ex.Message, null, ex);
        }
        catch (IOException ex)
        {
            throw new AwsServiceException("NetworkError", ex.Message, null, ex);
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                throw ParseError(response, payload);
            }

            try
            {
                return parse(payload);
            }
            catch (JsonException ex)
            {
                throw new AwsServiceException("MalformedResponse", $"{target} answered a body that is not the expected JSON: {ex.Message}", response.StatusCode, ex);
            }
        }
    }

    /// <summary>
    /// JSON 1.1 errors carry <c>__type</c> (and often <c>x-amzn-ErrorType</c>); emulators and front ends
    /// answer signature and credential errors as XML with <c>&lt;Code&gt;</c>, so both are read.
    /// </summary>
    internal static AwsServiceException ParseError(HttpResponseMessage response, byte[] payload)
    {
        string? type = null;
        string? message = null;
        if (response.Headers.TryGetValues("x-amzn-ErrorType", out var values))
        {
            type = values.FirstOrDefault();
        }

        var text = payload.AsSpan().TrimStart(" \r\n\t"u8);
        if (text.Length > 0 && text[0] == (byte)'{')
        {
            try
            {
                using var doc = JsonDocument.Parse(payload);
                foreach (var p in doc.RootElement.EnumerateObject())
                {
                    if (p.Value.ValueKind != JsonValueKind.String)
                    {
                        continue;
                    }

                    if (p.NameEquals("__type") || p.NameEquals("code") || p.NameEquals("Code"))
                    {
                        type ??= p.Value.GetString();
                    }
                    else if (p.NameEquals("message") || p.NameEquals("Message"))
                    {
                        message = p.Value.GetString();
                    }
                }
            }
            catch (JsonException)
            {
                // Not JSON after all: the status code alone decides.
            }
        }
        else if (text.Length > 0 && text[0] == (byte)'<')
        {
            var xml = System.Text.Encoding.UTF8.GetString(payload);
            type ??= Between(xml, "<Code>", "</Code>");
            message = Between(xml, "<Message>", "</Message>");
        }

        var code = AwsErrors.Normalize(type ?? (response.StatusCode == HttpStatusCode.Forbidden ? "AccessDenied" : $"Http{(int)response.StatusCode}"));
        return new AwsServiceException(code, message ?? response.ReasonPhrase ?? "no message", response.StatusCode);
    }

    private static string? Between(string text, string open, string close)
    {
        var start = text.IndexOf(open, StringComparison.Ordinal);
        if (start < 0)
        {
            return null;
        }

        start += open.Length;
        var end = text.IndexOf(close, start, StringComparison.Ordinal);
        return end < 0 ? null : text[start..end];
    }
}
