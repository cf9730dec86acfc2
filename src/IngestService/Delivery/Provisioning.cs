using System.Net;
using Amazon.Runtime;
using Amazon.S3.Model;
using Amazon.S3;
using IngestService.Aws;
using IngestService.Resilience;
using IngestService.Storage;
using Microsoft.Extensions.Options;

namespace IngestService.Delivery;

/// <summary>
/// <c>dotnet run --project src/IngestService -- provision</c>: creates what the <c>Aws</c> backend needs, each
/// only when missing, so running it again is harmless. Production accounts get these from
/// <c>deploy/</c>'s CloudFormation; this is for emulators and quick trials.
/// </summary>
/// <remarks>
/// Keys besides the <c>Aws</c> section: <c>Provision:KinesisShards</c> (default 0 = on-demand, falling back to
/// one shard where the server has no on-demand mode), <c>Provision:FirehoseRoleArn</c> (the role Firehose
/// writes to S3 with; required against real AWS), <c>Provision:BufferingSeconds</c> /
/// <c>Provision:BufferingMiB</c> (Firehose buffering hints, default 60 s / 1 MiB).
/// </remarks>
public static class Provisioning
{
    public static async Task<int> RunAsync(IConfiguration configuration, TextWriter output, AWSCredentials? credentials = null, CancellationToken cancellationToken = default)
    {
        var aws = configuration.GetSection(AwsOptions.Section).Get<AwsOptions>() ?? new AwsOptions();
        var storage = configuration.GetSection(StorageOptions.Section).Get<StorageOptions>() ?? new StorageOptions();
        if (string.IsNullOrWhiteSpace(aws.Bucket) || string.IsNullOrWhiteSpace(aws.DeliveryStream))
        {
            await output.WriteLineAsync("provision needs Aws:Bucket and Aws:DeliveryStream (e.g. --Aws:Bucket=ingest --Aws:DeliveryStream=ingest-raw).");
            return 2;
        }

        AwsConnection connection;
        try
        {
            connection = new AwsConnection(Options.Create(aws), credentials);
        }
        catch (InvalidOperationException ex)
        {
            await output.WriteLineAsync($"provision failed: {ex.Message}");
            return 2;
        }

        using var owned = connection;
        var roleArn = configuration["Provision:FirehoseRoleArn"];
        if (string.IsNullOrWhiteSpace(roleArn))
        {
            if (!connection.HasEndpointOverride("FIREHOSE"))
            {
                await output.WriteLineAsync("provision against AWS needs Provision:FirehoseRoleArn, a role Firehose may write to the bucket with.");
                return 2;
            }

            // Emulators accept any well-formed role.
            roleArn = "arn:aws:iam::123456789012:role/ingest-firehose";
        }

        try
        {
            using var s3 = S3ObjectStore.CreateClient(connection);
            await EnsureBucketAsync(s3, aws.Bucket, connection.Region.SystemName, output, cancellationToken);

            if (!string.IsNullOrWhiteSpace(aws.KinesisStream))
            {
                var shards = configuration.GetValue("Provision:KinesisShards", 0);
                await EnsureStreamAsync(new KinesisClient(connection), aws.KinesisStream, shards, output, cancellationToken);
            }

            var hints = new BufferingHints(configuration.GetValue("Provision:BufferingMiB", 1), configuration.GetValue("Provision:BufferingSeconds", 60));
            await EnsureDeliveryStreamAsync(new FirehoseClient(connection), aws.DeliveryStream, aws.Bucket, storage.RawPrefix, roleArn, hints, output, cancellationToken);
            await output.WriteLineAsync("provisioned");
            return 0;
        }
        catch (Exception ex) when (ex is AwsServiceException or AmazonServiceException or AmazonClientException or HttpRequestException)
        {
            await output.WriteLineAsync($"provision failed: {ex.Message}");
            return 1;
        }
    }

    private static async Task EnsureBucketAsync(IAmazonS3 s3, string bucket, string region, TextWriter output, CancellationToken cancellationToken)
    {
        try
        {
            await s3.HeadBucketAsync(new HeadBucketRequest { BucketName = bucket }, cancellationToken);
            await output.WriteLineAsync($"bucket {bucket}: exists");
            return;
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
        }

        var request = new PutBucketRequest { BucketName = bucket };
        if (region != "us-east-1")
        {
            request.BucketRegionName = region;
        }

        try
        {
            await s3.PutBucketAsync(request, cancellationToken);
            await output.WriteLineAsync($"bucket {bucket}: created");
        }
        catch (AmazonS3Exception ex) when (ex.ErrorCode == "BucketAlreadyOwnedByYou")
        {
            await output.WriteLineAsync($"bucket {bucket}: exists");
        }
    }

    private static async Task EnsureStreamAsync(IKinesisClient kinesis, string stream, int shards, TextWriter output, CancellationToken cancellationToken)
    {
        if (await StreamStatusAsync(kinesis, stream, cancellationToken) is { } existing)
        {
            await output.WriteLineAsync($"kinesis stream {stream}: exists ({existing})");
            return;
        }

        if (shards > 0)
        {
            await kinesis.CreateStreamAsync(new CreateStreamRequest(stream, shards, new StreamModeDetails("PROVISIONED")), cancellationToken);
        }
        else
        {
            try
            {
                await kinesis.CreateStreamAsync(new CreateStreamRequest(stream, null, new StreamModeDetails("ON_DEMAND")), cancellationToken);
                shards = -1;
            }
            catch (AwsServiceException ex) when (ex.ErrorCode is "InvalidArgumentException" or "ValidationException" or "UnknownOperationException")
            {
                await kinesis.CreateStreamAsync(new CreateStreamRequest(stream, 1, null), cancellationToken);
                shards = 1;
            }
        }

        await WaitActiveAsync(() => StreamStatusAsync(kinesis, stream, cancellationToken), cancellationToken);
        await output.WriteLineAsync($"kinesis stream {stream}: created ({(shards < 0 ? "on-demand" : $"{shards} shards")})");
    }

    private static async Task EnsureDeliveryStreamAsync(
        IFirehoseClient firehose, string stream, string bucket, string prefix, string roleArn, BufferingHints hints, TextWriter output, CancellationToken cancellationToken)
    {
        if (await DeliveryStatusAsync(firehose, stream, cancellationToken) is { } existing)
        {
            await output.WriteLineAsync($"delivery stream {stream}: exists ({existing})");
            return;
        }

        // UNCOMPRESSED whatever Aws:FirehoseCompression says: with Gzip the records are gzip members already, which
        // Firehose concatenates into a multi-member gzip object and bills by their compressed size; Firehose's own
        // GZIP would bill the same bytes and compress the members a second time, which no reader expects. Under the
        // raw prefix, Firehose's default YYYY/MM/DD/HH/ layout in UTC; delivery errors go under the service's
        // bookkeeping prefix, away from the raw batches.
        var destination = new ExtendedS3DestinationConfiguration(
            $"arn:aws:s3:::{bucket}", roleArn, prefix, $"{StorageOptions.BookkeepingPrefix}firehose-errors/!{{firehose:error-output-type}}/", hints, "UNCOMPRESSED");
        await firehose.CreateDeliveryStreamAsync(new CreateDeliveryStreamRequest(stream, "DirectPut", destination), cancellationToken);
        await WaitActiveAsync(() => DeliveryStatusAsync(firehose, stream, cancellationToken), cancellationToken);
        await output.WriteLineAsync($"delivery stream {stream}: created (s3://{bucket}/{prefix})");
    }

    private static async Task<string?> StreamStatusAsync(IKinesisClient kinesis, string stream, CancellationToken cancellationToken)
    {
        try
        {
            return (await kinesis.DescribeStreamSummaryAsync(new DescribeStreamSummaryRequest(stream), cancellationToken)).StreamDescriptionSummary.StreamStatus;
        }
        catch (AwsServiceException ex) when (ex.ErrorCode == "ResourceNotFoundException")
        {
            return null;
        }
    }

    private static async Task<string?> DeliveryStatusAsync(IFirehoseClient firehose, string stream, CancellationToken cancellationToken)
    {
        try
        {
            return (await firehose.DescribeDeliveryStreamAsync(new DescribeDeliveryStreamRequest(stream), cancellationToken)).DeliveryStreamDescription.DeliveryStreamStatus;
        }
        catch (AwsServiceException ex) when (ex.ErrorCode == "ResourceNotFoundException")
        {
            return null;
        }
    }

    /// <summary>AWS creates streams asynchronously (seconds to a minute); emulators at once.</summary>
    private static async Task WaitActiveAsync(Func<Task<string?>> status, CancellationToken cancellationToken)
    {
        var state = await UntilActive.ExecuteAsync(static (status, _) => new ValueTask<string?>(status()), status, cancellationToken);
        if (state != "ACTIVE")
        {
            throw new AwsServiceException("Timeout", "the stream did not become ACTIVE within two minutes", null);
        }
    }

    /// <summary>A look a second for two minutes.</summary>
    private static readonly RetryLoop<string?> UntilActive =
        Retry.While<string?>(state => state != "ACTIVE", new RetryDelays(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), Jitter: false), TimeProvider.System, maxAttempts: 120);
}
