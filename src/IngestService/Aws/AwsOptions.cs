using Microsoft.Extensions.Options;

namespace IngestService.Aws;

/// <summary>
/// Where the <c>Aws</c> backend delivers and stores. Bound to the <c>Aws</c> section, which
/// <see cref="Storage.StorageOptions"/> shares for the key prefixes.
/// </summary>
public sealed class AwsOptions
{
    public const string Section = "Aws";

    /// <summary>Region such as <c>eu-west-1</c>. Default empty: <c>AWS_REGION</c> / <c>AWS_DEFAULT_REGION</c> or the profile decides.</summary>
    public string? Region { get; set; }

    /// <summary>One endpoint for every AWS call (moto, LocalStack). Default empty: the standard endpoint variables, else AWS.</summary>
    public string? ServiceUrl { get; set; }

    /// <summary>Bucket of raw batches and sensor-day objects. Required for <c>Aws</c>.</summary>
    public string? Bucket { get; set; }

    /// <summary>Firehose delivery stream. Required for <c>Aws</c>.</summary>
    public string? DeliveryStream { get; set; }

    /// <summary>Kinesis data stream. Default empty: no real-time stream.</summary>
    public string? KinesisStream { get; set; }

    /// <summary>How events become Kinesis records. Default <c>None</c>: one record per event.</summary>
    public KinesisAggregation KinesisAggregation { get; set; } = KinesisAggregation.None;

    /// <summary>
    /// How packed Firehose records are encoded. Default <c>Gzip</c>: each record one gzip member, so Firehose
    /// bills (and stores) the compressed bytes. The delivery stream must then be UNCOMPRESSED.
    /// </summary>
    public FirehoseCompression FirehoseCompression { get; set; } = FirehoseCompression.Gzip;
}

public enum FirehoseCompression
{
    /// <summary>Records are the NDJSON lines as they are.</summary>
    None,

    /// <summary>
    /// Each record is one gzip member of whole lines; a delivered object is a multi-member gzip stream. Firehose
    /// bills ingested bytes per record (5 KB minimum), so this bills the compressed size: about a fifth.
    /// </summary>
    Gzip,
}

public enum KinesisAggregation
{
    /// <summary>One Kinesis record per event.</summary>
    None,

    /// <summary>
    /// Many events per record in the KPL aggregation format, grouped by the shard each sensor hashes to:
    /// far fewer records and PUT payload units, and a shard's 1,000 records/s no longer caps events/s.
    /// </summary>
    Kpl,
}

/// <summary>Registered with the <c>Aws</c> backend only: its required keys mean nothing on <c>Local</c>.</summary>
internal sealed class AwsOptionsValidator : IValidateOptions<AwsOptions>
{
    public ValidateOptionsResult Validate(string? name, AwsOptions options)
    {
        List<string> failures = [];
        if (string.IsNullOrWhiteSpace(options.Bucket))
        {
            failures.Add("Aws:Bucket is required when Ingest:Backend is Aws: set it to the bucket that holds raw batches and sensor-days.");
        }

        if (string.IsNullOrWhiteSpace(options.DeliveryStream))
        {
            failures.Add("Aws:DeliveryStream is required when Ingest:Backend is Aws: set it to the Firehose delivery stream name.");
        }

        if (string.IsNullOrWhiteSpace(options.Region) && Amazon.Runtime.FallbackRegionFactory.GetRegionEndpoint(includeInstanceMetadata: false) is null)
        {
            failures.Add("Aws:Region is required when Ingest:Backend is Aws and neither AWS_REGION nor an AWS profile names one.");
        }

        if (!string.IsNullOrWhiteSpace(options.ServiceUrl) && !Uri.TryCreate(options.ServiceUrl, UriKind.Absolute, out _))
        {
            failures.Add($"Aws:ServiceUrl '{options.ServiceUrl}' is not an absolute URL such as http://127.0.0.1:5000.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
