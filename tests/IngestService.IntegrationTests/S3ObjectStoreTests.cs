using System.Text;
using IngestService.Storage;

namespace IngestService.IntegrationTests;

/// <summary>The S3 store with the service user's least-privilege keys, straight against moto.</summary>
[Collection(MotoCollection.Name)]
public sealed class S3ObjectStoreTests(MotoFixture moto)
{
    private readonly string _prefix = $"store-{Guid.NewGuid():N}";

    [Fact]
    public async Task Conditional_writes_create_once_and_replace_only_the_version_that_was_read()
    {
        using var store = Store();
        var key = $"{_prefix}-day.ndjson.gz";

        var created = await store.PutAsync(key, Body("v1"), WriteCondition.CreateOnly, null, default);
        var again = await store.PutAsync(key, Body("v1 again"), WriteCondition.CreateOnly, null, default);
        var replaced = await store.PutAsync(key, Body("v2"), WriteCondition.Replace(created!), null, default);
        var stale = await store.PutAsync(key, Body("v3 from a stale read"), WriteCondition.Replace(created!), null, default);

        Assert.NotNull(created);
        Assert.Null(again);
        Assert.NotNull(replaced);
        Assert.NotEqual(created, replaced);
        Assert.Null(stale);
        await using var current = await store.GetAsync(key, default);
        Assert.Equal("v2", await new StreamReader(current!.Content).ReadToEndAsync());
        Assert.Equal(replaced, current.Info.ETag);
    }

    [Fact]
    public async Task User_metadata_round_trips_through_head_and_get()
    {
        using var store = Store();
        var key = $"{_prefix}-meta";
        await store.PutAsync(key, Body("x"), WriteCondition.None, new Dictionary<string, string> { ["events"] = "42", ["source"] = "raw-1" }, default);

        var head = await store.HeadAsync(key, default);
        await using var get = await store.GetAsync(key, default);

        Assert.Equal("42", head!.Metadata!["events"]);
        Assert.Equal("raw-1", head.Metadata["source"]);
        Assert.Equal("42", get!.Info.Metadata!["events"]);
        Assert.Equal(1, head.Size);
    }

    [Fact]
    public async Task Missing_objects_are_null_and_deleted_objects_are_gone()
    {
        using var store = Store();
        var key = $"{_prefix}-gone";
        await store.PutAsync(key, Body("x"), WriteCondition.None, null, default);

        await store.DeleteAsync(key, default);

        Assert.Null(await store.HeadAsync(key, default));
        Assert.Null(await store.GetAsync(key, default));
    }

    [Fact]
    public async Task Listing_is_in_key_order_and_starts_after_the_given_key()
    {
        using var store = Store();
        foreach (var n in new[] { 3, 1, 2, 5, 4 })
        {
            await store.PutAsync($"{_prefix}-{n}", Body($"{n}"), WriteCondition.None, null, default);
        }

        // Key prefixes without '/': moto 5.2.1 with IAM enforced rejects signatures of queries containing one.
        var all = await store.ListAsync(_prefix, null, default).Select(o => o.Key).ToListAsync();
        var after = await store.ListAsync(_prefix, $"{_prefix}-2", default).Select(o => o.Key).ToListAsync();

        Assert.Equal(Enumerable.Range(1, 5).Select(n => $"{_prefix}-{n}"), all);
        Assert.Equal(Enumerable.Range(3, 3).Select(n => $"{_prefix}-{n}"), after);
    }

    [Fact]
    public async Task The_store_is_ready_with_the_service_keys_and_not_with_a_wrong_secret()
    {
        using var store = Store();
        using var wrong = new S3ObjectStore(
            S3ObjectStore.CreateClient(moto.Connection(new Amazon.Runtime.BasicAWSCredentials(moto.ServiceAccessKeyId, "wrong-secret"))), moto.Bucket);

        Assert.Null(await store.CheckReadyAsync(default));
        Assert.NotNull(await wrong.CheckReadyAsync(default));
    }

    private S3ObjectStore Store() => new(S3ObjectStore.CreateClient(moto.Connection(moto.Service)), moto.Bucket);

    private static MemoryStream Body(string text) => new(Encoding.UTF8.GetBytes(text));
}
