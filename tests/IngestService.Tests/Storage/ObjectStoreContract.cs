using System.Text;
using IngestService.Storage;

namespace IngestService.Tests.Storage;

/// <summary>
/// What every <see cref="IObjectStore"/> must do, whichever backend: derive from it with a fresh, empty store
/// per test class instance (the S3 store runs the same tests against an emulator).
/// </summary>
public abstract class ObjectStoreContract<TStore>
    where TStore : IObjectStore
{
    /// <summary>A store over an empty namespace (folder or bucket prefix) for this test.</summary>
    protected abstract TStore Store { get; }

    /// <summary>A second client over the same namespace, as another process or node would have.</summary>
    protected abstract TStore OpenSecondStore();

    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(2));

    /// <summary>Ends a test that hangs instead of hanging the run (xunit makes an instance per test).</summary>
    protected CancellationToken Token => _timeout.Token;

    protected static MemoryStream Bytes(string text) => new(Encoding.UTF8.GetBytes(text));

    protected async Task<string> ReadAsync(IObjectStore store, string key)
    {
        await using var stored = await store.GetAsync(key, Token) ?? throw new InvalidOperationException($"{key} is missing");
        using var reader = new StreamReader(stored.Content);
        return await reader.ReadToEndAsync(Token);
    }

    [Fact]
    public async Task A_written_object_reads_back_with_its_etag_size_and_metadata()
    {
        var etag = await Store.PutAsync("a/b.txt", Bytes("hello"), WriteCondition.None, new Dictionary<string, string> { ["events"] = "5" }, Token);

        Assert.NotNull(etag);
        await using var stored = await Store.GetAsync("a/b.txt", Token);
        Assert.NotNull(stored);
        Assert.Equal(etag, stored.Info.ETag);
        Assert.Equal(5, stored.Info.Size);
        Assert.Equal("5", stored.Info.Metadata!["events"]);
        using var reader = new StreamReader(stored.Content);
        Assert.Equal("hello", await reader.ReadToEndAsync(Token));
    }

    [Fact]
    public async Task A_ranged_read_answers_the_bytes_asked_for_and_a_suffix_range_the_last_ones_with_the_whole_size()
    {
        var etag = await Store.PutAsync("r/run", Bytes("0123456789"), WriteCondition.None, null, Token);

        async Task<(string Text, long Size, string ETag)> RangeAsync(ObjectRange range)
        {
            await using var stored = await Store.GetRangeAsync("r/run", range, Token) ?? throw new InvalidOperationException("r/run is missing");
            using var reader = new StreamReader(stored.Content);
            return (await reader.ReadToEndAsync(Token), stored.Info.Size, stored.Info.ETag);
        }

        Assert.Equal(("234", 10L, etag), await RangeAsync(new ObjectRange(2, 3)));
        Assert.Equal(("789", 10L, etag), await RangeAsync(ObjectRange.Suffix(3)));
        Assert.Equal(("0123456789", 10L, etag), await RangeAsync(ObjectRange.Suffix(64 * 1024)));
        Assert.Null(await Store.GetRangeAsync("r/missing", ObjectRange.Suffix(3), Token));
    }

    [Fact]
    public async Task Head_answers_etag_size_and_metadata_and_null_for_a_missing_key()
    {
        var etag = await Store.PutAsync("h/x", Bytes("12345678"), WriteCondition.None, new Dictionary<string, string> { ["bytes"] = "8" }, Token);

        var head = await Store.HeadAsync("h/x", Token);
        Assert.NotNull(head);
        Assert.Equal(etag, head.ETag);
        Assert.Equal(8, head.Size);
        Assert.Equal("8", head.Metadata!["bytes"]);
        Assert.Null(await Store.HeadAsync("h/missing", Token));
        Assert.Null(await Store.GetAsync("h/missing", Token));
    }

    [Fact]
    public async Task Create_only_fails_when_the_key_exists()
    {
        Assert.NotNull(await Store.PutAsync("c/k", Bytes("first"), WriteCondition.CreateOnly, null, Token));
        Assert.Null(await Store.PutAsync("c/k", Bytes("second"), WriteCondition.CreateOnly, null, Token));
        Assert.Equal("first", await ReadAsync(Store, "c/k"));
    }

    [Fact]
    public async Task Replace_succeeds_only_for_the_version_that_was_read()
    {
        var first = await Store.PutAsync("r/k", Bytes("v1"), WriteCondition.None, null, Token);
        var second = await Store.PutAsync("r/k", Bytes("v2"), WriteCondition.Replace(first!), null, Token);

        Assert.NotNull(second);
        Assert.NotEqual(first, second);
        Assert.Null(await Store.PutAsync("r/k", Bytes("stale"), WriteCondition.Replace(first!), null, Token));
        Assert.Null(await Store.PutAsync("r/missing", Bytes("x"), WriteCondition.Replace(first!), null, Token));
        Assert.Equal("v2", await ReadAsync(Store, "r/k"));
    }

    [Fact]
    public async Task Listing_is_ascending_under_the_prefix_and_starts_after_the_cursor()
    {
        string[] keys = ["l/2026/11/21/10/b", "l/2026/11/21/09/z", "l/2026/11/21/10/a", "l/2026/11/22/00/a", "l-other/x", "l/a-b", "m/x"];
        foreach (var key in keys)
        {
            await Store.PutAsync(key, Bytes(key), WriteCondition.None, null, Token);
        }

        var all = await ListAsync("l/", null);
        Assert.Equal(["l/2026/11/21/09/z", "l/2026/11/21/10/a", "l/2026/11/21/10/b", "l/2026/11/22/00/a", "l/a-b"], all);
        Assert.Equal(["l/2026/11/21/10/b", "l/2026/11/22/00/a", "l/a-b"], await ListAsync("l/", "l/2026/11/21/10/a"));
        Assert.Equal(["l/2026/11/21/10/a", "l/2026/11/21/10/b"], await ListAsync("l/2026/11/21/10/", null));
        // A cursor inside the folder listed: the key at the cursor is left out, one between two keys leaves out the first.
        Assert.Equal(["l/2026/11/21/10/b"], await ListAsync("l/2026/11/21/10/", "l/2026/11/21/10/a"));
        Assert.Equal(["l/2026/11/21/10/b", "l/2026/11/22/00/a"], await ListAsync("l/2026/11/2", "l/2026/11/21/10/a-"));
        Assert.Equal(["l-other/x", "l/2026/11/21/09/z"], (await ListAsync("l", null)).Take(2));
        Assert.Empty(await ListAsync("nothing/", null));
    }

    [Fact]
    public async Task Folder_listing_names_each_folder_under_the_prefix_once_in_order_after_the_cursor()
    {
        string[] keys = ["f/s2/2026-11-21.ndjson.gz", "f/s1/2026-11-21.ndjson.gz", "f/s1/2026-11-22.ndjson.gz", "f/s1.x/a", "f/s10/a", "f/loose", "g/s3/a"];
        foreach (var key in keys)
        {
            await Store.PutAsync(key, Bytes(key), WriteCondition.None, null, Token);
        }

        async Task<List<string>> FoldersAsync(string prefix, string? after)
        {
            var folders = new List<string>();
            await foreach (var folder in Store.ListFoldersAsync(prefix, after, Token))
            {
                folders.Add(folder);
            }

            return folders;
        }

        Assert.Equal(["f/s1.x/", "f/s1/", "f/s10/", "f/s2/"], await FoldersAsync("f/", null));
        Assert.Equal(["f/s10/", "f/s2/"], await FoldersAsync("f/", "f/s1/"));
        Assert.Equal(["f/s1.x/", "f/s1/", "f/s10/"], await FoldersAsync("f/s1", null));
        Assert.Empty(await FoldersAsync("nothing/", null));
    }

    [Fact]
    public async Task A_deleted_object_is_gone_and_deleting_a_missing_one_is_no_error()
    {
        await Store.PutAsync("d/k", Bytes("x"), WriteCondition.None, null, Token);
        await Store.DeleteAsync("d/k", Token);
        await Store.DeleteAsync("d/never", Token);

        Assert.Null(await Store.HeadAsync("d/k", Token));
        Assert.NotNull(await Store.PutAsync("d/k", Bytes("again"), WriteCondition.CreateOnly, null, Token));
    }

    [Fact]
    public async Task Of_many_racing_create_only_writes_exactly_one_wins()
    {
        var other = OpenSecondStore();
        var writes = Enumerable.Range(0, 16).Select(i =>
            Task.Run(() => (i % 2 == 0 ? Store : other).PutAsync("race/k", Bytes($"writer {i}"), WriteCondition.CreateOnly, null, Token), Token));

        var results = await Task.WhenAll(writes);

        Assert.Single(results, r => r is not null);
    }

    [Fact]
    public virtual async Task Racing_read_modify_write_loops_lose_no_update()
    {
        await Store.PutAsync("counter", Bytes("0"), WriteCondition.CreateOnly, null, Token);
        var other = OpenSecondStore();
        var workers = Enumerable.Range(0, 6).Select(w => Task.Run(async () =>
        {
            var store = w % 2 == 0 ? (IObjectStore)Store : other;
            for (var i = 0; i < 10; i++)
            {
                while (true)
                {
                    string etag;
                    int value;
                    await using (var stored = await store.GetAsync("counter", Token))
                    {
                        etag = stored!.Info.ETag;
                        using var reader = new StreamReader(stored.Content);
                        value = int.Parse(await reader.ReadToEndAsync(Token), System.Globalization.CultureInfo.InvariantCulture);
                    }

                    if (await store.PutAsync("counter", Bytes($"{value + 1}"), WriteCondition.Replace(etag), null, Token) is not null)
                    {
                        break;
                    }
                }
            }
        }, Token));

        await Task.WhenAll(workers);

        Assert.Equal("60", await ReadAsync(Store, "counter"));
    }

    [Fact]
    public async Task The_store_reports_itself_ready()
    {
        Assert.Null(await Store.CheckReadyAsync(Token));
    }

    protected async Task<List<string>> ListAsync(string prefix, string? startAfter)
    {
        var keys = new List<string>();
        await foreach (var info in Store.ListAsync(prefix, startAfter, Token))
        {
            keys.Add(info.Key);
        }

        return keys;
    }
}
