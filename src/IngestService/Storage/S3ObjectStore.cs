using System.Net;
using System.Runtime.CompilerServices;
using Amazon.S3.Model;
using Amazon.S3;
using IngestService.Aws;
using Microsoft.Extensions.Options;

namespace IngestService.Storage;

/// <summary>
/// <see cref="IObjectStore"/> over S3. Conditional writes map onto S3's own (<c>If-None-Match: *</c>,
/// <c>If-Match</c>), so concurrent regroup passes on many nodes are safe without any lock service.
/// </summary>
public sealed class S3ObjectStore : IObjectStore, IDisposable
{
    private const string MetaPrefix = "x-amz-meta-";

    private readonly IAmazonS3 _s3;
    private readonly string _bucket;

    public S3ObjectStore(IOptions<AwsOptions> options, AwsConnection connection)
        : this(CreateClient(connection), options.Value.Bucket!)
    {
    }

    public S3ObjectStore(IAmazonS3 s3, string bucket)
    {
        _s3 = s3;
        _bucket = bucket;
    }

    /// <summary>Same region, endpoint and credentials as the delivery clients; path-style for emulators.</summary>
    public static AmazonS3Client CreateClient(AwsConnection connection)
    {
        var config = new AmazonS3Config { RegionEndpoint = connection.Region };
        if (connection.HasEndpointOverride("S3"))
        {
            config.ServiceURL = connection.EndpointFor("s3", "S3").ToString();
            config.ForcePathStyle = true;
            config.AuthenticationRegion = connection.Region.SystemName;
        }

        return connection.FixedCredentials is { } credentials ? new AmazonS3Client(credentials, config) : new AmazonS3Client(config);
    }

    public async Task<StoredObject?> GetAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            var response = await _s3.GetObjectAsync(new GetObjectRequest { BucketName = _bucket, Key = key }, cancellationToken);
            var info = new ObjectInfo(key, response.ETag, response.ContentLength, ToOffset(response.LastModified), ReadMetadata(response.Metadata));
            return new StoredObject(info, new ResponseStream(response));
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public async Task<StoredObject?> GetRangeAsync(string key, ObjectRange range, CancellationToken cancellationToken)
    {
        var request = new GetObjectRequest
        {
            BucketName = _bucket,
            Key = key,
            ByteRange = range.IsSuffix ? new Amazon.S3.Model.ByteRange($"bytes=-{-range.Offset}") : new Amazon.S3.Model.ByteRange(range.Offset, range.Offset + range.Length - 1),
        };
        try
        {
            var response = await _s3.GetObjectAsync(request, cancellationToken);
            // A ranged answer's Content-Range ends in the whole size ("bytes 0-9/1234").
            var size = response.ContentRange is { } contentRange && contentRange.LastIndexOf('/') is var slash and >= 0
                && long.TryParse(contentRange.AsSpan(slash + 1), out var total) ? total : response.ContentLength;
            var info = new ObjectInfo(key, response.ETag, size, ToOffset(response.LastModified), ReadMetadata(response.Metadata));
            return new StoredObject(info, new ResponseStream(response));
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            // An empty object has no bytes to range over.
            var head = await HeadAsync(key, cancellationToken);
            return head is null ? null : new StoredObject(head, Stream.Null);
        }
    }

    public async Task<ObjectInfo?> HeadAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            var response = await _s3.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = _bucket, Key = key }, cancellationToken);
            return new ObjectInfo(key, response.ETag, response.ContentLength, ToOffset(response.LastModified), ReadMetadata(response.Metadata));
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public async IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, string? startAfter, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var request = new ListObjectsV2Request { BucketName = _bucket, Prefix = prefix, StartAfter = startAfter };
        while (true)
        {
            var page = await _s3.ListObjectsV2Async(request, cancellationToken);
            foreach (var o in page.S3Objects ?? [])
            {
                yield return new ObjectInfo(o.Key, o.ETag, o.Size ?? 0, ToOffset(o.LastModified));
            }

            if (page.IsTruncated != true || string.IsNullOrEmpty(page.NextContinuationToken))
            {
                yield break;
            }

            request.ContinuationToken = page.NextContinuationToken;
        }
    }

    /// <summary>Sorts after every key character (U+10FFFF; U+FFFF would be invalid in S3's XML answer).</summary>
    private const string LastCharacter = "\U0010FFFF";

    public async IAsyncEnumerable<string> ListFoldersAsync(string prefix, string? startAfter, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // Past every key inside the folder startAfter, so its own common prefix is not returned again.
        var request = new ListObjectsV2Request { BucketName = _bucket, Prefix = prefix, Delimiter = "/", StartAfter = startAfter is null ? null : startAfter + LastCharacter };
        while (true)
        {
            var page = await _s3.ListObjectsV2Async(request, cancellationToken);
            foreach (var folder in page.CommonPrefixes ?? [])
            {
                yield return folder;
            }

            if (page.IsTruncated != true || string.IsNullOrEmpty(page.NextContinuationToken))
            {
                yield break;
            }

            request.ContinuationToken = page.NextContinuationToken;
        }
    }

    public async Task<string?> PutAsync(string key, Stream content, WriteCondition condition, IReadOnlyDictionary<string, string>? metadata, CancellationToken cancellationToken)
    {
        // The SDK needs a length to sign and send a body; a forward-only stream is buffered first.
        Stream body = content;
        if (!content.CanSeek)
        {
            var buffered = new MemoryStream();
            await content.CopyToAsync(buffered, cancellationToken);
            buffered.Position = 0;
            body = buffered;
        }

        var request = new PutObjectRequest { BucketName = _bucket, Key = key, InputStream = body, AutoCloseStream = false };
        if (condition.IfNoneMatch)
        {
            request.IfNoneMatch = "*";
        }

        if (condition.IfMatch is { } etag)
        {
            request.IfMatch = etag;
        }

        foreach (var (name, value) in metadata ?? new Dictionary<string, string>())
        {
            request.Metadata[name] = value;
        }

        try
        {
            var response = await _s3.PutObjectAsync(request, cancellationToken);
            return response.ETag;
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode is HttpStatusCode.PreconditionFailed or HttpStatusCode.Conflict
            || (ex.StatusCode == HttpStatusCode.NotFound && condition.IfMatch is not null))
        {
            // S3 answers If-Match on a key that is gone with 404: the version that was read is not there either.
            return null;
        }
        finally
        {
            if (!ReferenceEquals(body, content))
            {
                await body.DisposeAsync();
            }
        }
    }

    public Task DeleteAsync(string key, CancellationToken cancellationToken) =>
        _s3.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _bucket, Key = key }, cancellationToken);

    public async Task<string?> CheckReadyAsync(CancellationToken cancellationToken)
    {
        try
        {
            // A one-key listing rather than HeadBucket: both need only s3:ListBucket on AWS, but moto
            // authorizes HeadBucket as an action of its own that no policy names.
            await _s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = _bucket, MaxKeys = 1 }, cancellationToken);
            return null;
        }
        catch (AmazonS3Exception ex)
        {
            return $"S3 bucket '{_bucket}': {(int)ex.StatusCode} {ex.ErrorCode ?? ex.Message}";
        }
        catch (HttpRequestException ex)
        {
            return $"S3 bucket '{_bucket}': {ex.Message}";
        }
    }

    public void Dispose() => _s3.Dispose();

    private static DateTimeOffset ToOffset(DateTime? value) =>
        value is { } v ? new DateTimeOffset(DateTime.SpecifyKind(v.ToUniversalTime(), DateTimeKind.Utc)) : DateTimeOffset.MinValue;

    /// <summary>The SDK reports user metadata under its header names; callers see the names they wrote.</summary>
    private static Dictionary<string, string> ReadMetadata(MetadataCollection metadata)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var name in metadata.Keys)
        {
            var bare = name.StartsWith(MetaPrefix, StringComparison.OrdinalIgnoreCase) ? name[MetaPrefix.Length..] : name;
            result[bare] = metadata[name];
        }

        return result;
    }

    /// <summary>Disposes the whole response (and its connection) with the stream.</summary>
    private sealed class ResponseStream(GetObjectResponse response) : Stream
    {
        private readonly Stream _inner = response.ResponseStream;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => _inner.Length;

        public override long Position { get => _inner.Position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _inner.ReadAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => _inner.ReadAsync(buffer, offset, count, cancellationToken);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                response.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
