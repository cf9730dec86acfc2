using Amazon.S3;
using IngestService.Storage;
using IngestService.Tests.Storage;

namespace IngestService.IntegrationTests;

/// <summary>The object-store contract the file-system store passes, run against S3 on moto: a fresh bucket per test.</summary>
[Collection(OpenMotoCollection.Name)]
public sealed class S3ObjectStoreContractTests : ObjectStoreContract<S3ObjectStore>, IDisposable
{
    private readonly AmazonS3Client _client;
    private readonly string _bucket = $"contract-{Guid.NewGuid():N}";

    public S3ObjectStoreContractTests(OpenMotoFixture moto)
    {
        _client = moto.AdminS3();
        _client.PutBucketAsync(_bucket).GetAwaiter().GetResult();
        Store = new S3ObjectStore(_client, _bucket);
    }

    protected override S3ObjectStore Store { get; }

    protected override S3ObjectStore OpenSecondStore() => new(_client, _bucket);

    /// <summary>
    /// moto 5.2.1 checks <c>If-Match</c> and stores the object without a lock across its request threads, so two
    /// racing conditional PUTs can both succeed there (this test failed intermittently against it); S3 serialises them.
    /// The file-system store runs this race; against moto the other contract tests cover the conditions.
    /// </summary>
    [Fact(Skip = "moto does not make conditional PUTs atomic under concurrency; S3 does")]
    public override Task Racing_read_modify_write_loops_lose_no_update() => base.Racing_read_modify_write_loops_lose_no_update();

    public void Dispose() => _client.Dispose();
}
