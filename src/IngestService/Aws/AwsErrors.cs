using System.Net;

namespace IngestService.Aws;

/// <summary>An AWS call or record that failed, with the error type AWS named and whether trying again can help.</summary>
public sealed class AwsServiceException(string errorCode, string message, HttpStatusCode? statusCode, Exception? inner = null)
    : Exception($"{errorCode}: {message}", inner)
{
    public string ErrorCode { get; } = errorCode;

    public HttpStatusCode? StatusCode { get; } = statusCode;

    public bool IsRetryable => AwsErrors.IsRetryable(ErrorCode, StatusCode);
}

/// <summary>Which AWS errors are worth another attempt.</summary>
public static class AwsErrors
{
    /// <summary>Our own code for a Kinesis record that landed on another shard than the one it was packed for.</summary>
    public const string LandedOutsideShard = "LandedOutsideShard";

    /// <summary>Throttling and server-side failures: the same request can succeed later.</summary>
    private static readonly HashSet<string> Retryable = new(StringComparer.Ordinal)
    {
        "ServiceUnavailableException", "ServiceUnavailable", "InternalFailure", "InternalFailureException",
        "InternalServerError", "InternalError", "ProvisionedThroughputExceededException", "ThrottlingException",
        "Throttling", "ThrottledException", "RequestThrottled", "RequestThrottledException", "SlowDown",
        "LimitExceededException", "KMSThrottlingException", "RequestTimeout", "RequestTimeoutException",
        "TransactionInProgressException", "Timeout", "NetworkError",
        LandedOutsideShard,
    };

    /// <summary>
    /// True for throttling, server-side failures and transport errors. False for what the same request
    /// will always get: bad arguments, missing resources, denied access and signature or credential errors,
    /// which must fail the window at once instead of waiting out the ack deadline.
    /// </summary>
    public static bool IsRetryable(string errorCode, HttpStatusCode? statusCode)
    {
        if (Retryable.Contains(errorCode))
        {
            return true;
        }

        return statusCode is { } s && ((int)s >= 500 || s == HttpStatusCode.TooManyRequests);
    }

    /// <summary>
    /// The bare error type: JSON 1.1 services may send <c>aws.protocols#Name</c> or <c>Name:http://…</c>
    /// forms.
    /// </summary>
    public static string Normalize(string? type)
    {
        if (string.IsNullOrEmpty(type))
        {
            return "Unknown";
        }

        var hash = type.LastIndexOf('#');
        if (hash >= 0)
        {
            type = type[(hash + 1)..];
        }

        var colon = type.IndexOf(':', StringComparison.Ordinal);
        return colon >= 0 ? type[..colon] : type;
    }
}
