using IngestService.Storage;

namespace IngestService.Tests.Storage;

public sealed class FileSystemObjectStoreTests : ObjectStoreContract<FileSystemObjectStore>, IDisposable
{
    private readonly TempFolder _folder = new();
    private readonly FileSystemObjectStore _store;

    public FileSystemObjectStoreTests() => _store = new FileSystemObjectStore(_folder.Path);

    protected override FileSystemObjectStore Store => _store;

    // A separate instance has its own in-process semaphores, so only the file locks keep it in line, as
    // they would a second process.
    protected override FileSystemObjectStore OpenSecondStore() => new(_folder.Path);

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task A_gzip_object_on_disk_is_still_a_gzip_file_that_any_reader_decompresses()
    {
        var gzipped = new MemoryStream();
        await using (var gzip = new System.IO.Compression.GZipStream(gzipped, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
        {
            await gzip.WriteAsync("{\"seq\":1}\n"u8.ToArray(), Token);
        }

        gzipped.Position = 0;
        await Store.PutAsync("sensors/s1/2026-11-21.ndjson.gz", gzipped, WriteCondition.None, new Dictionary<string, string> { ["events"] = "1" }, Token);
        var file = Path.Combine(_folder.Path, "sensors", "s1", "2026-11-21.ndjson.gz");

        // The store's header rides in an empty gzip member's extra field, which gzip readers skip.
        var zcat = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("gzip", ["-dc", file]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var text = await zcat.StandardOutput.ReadToEndAsync(Token);
        await zcat.WaitForExitAsync(Token);
        Assert.Equal(0, zcat.ExitCode);
        Assert.Equal("{\"seq\":1}\n", text);
        Assert.Equal("1", (await Store.HeadAsync("sensors/s1/2026-11-21.ndjson.gz", Token))!.Metadata!["events"]);
    }

    [Fact]
    public async Task Files_written_by_others_read_as_objects_and_temporary_files_are_not_listed()
    {
        var hour = Path.Combine(_folder.Path, "raw", "2026", "11", "21", "10");
        Directory.CreateDirectory(hour);
        await File.WriteAllTextAsync(Path.Combine(hour, "batch.ndjson"), "{\"a\":1}\n", Token);
        await File.WriteAllTextAsync(Path.Combine(hour, "batch2.ndjson.1234.tmp"), "partial", Token);

        var keys = await ListAsync("raw/", null);

        Assert.Equal(["raw/2026/11/21/10/batch.ndjson"], keys);
        Assert.Equal("{\"a\":1}\n", await ReadAsync(Store, keys[0]));
        var head = await Store.HeadAsync(keys[0], Token);
        Assert.Equal(8, head!.Size);
        Assert.Empty(head.Metadata!);
    }

    [Fact]
    public async Task Bookkeeping_lock_files_never_show_in_listings()
    {
        await Store.PutAsync("_ingest/done/raw/x", Stream.Null, WriteCondition.None, null, Token);

        Assert.Equal(["_ingest/done/raw/x"], await ListAsync("_ingest/", null));
        Assert.Equal(["_ingest/done/raw/x"], await ListAsync("", null));
    }

    [Fact]
    public async Task A_write_waits_while_another_process_holds_the_lock_of_its_key()
    {
        // Creates the lock files, then holds all of them as another process would (FileShare.None is flock on Unix).
        await Store.PutAsync("warm-up", Bytes("x"), WriteCondition.None, null, Token);
        var folder = Path.Combine(_folder.Path, "_ingest", "locks");
        var held = Enumerable.Range(0, 64)
            .Select(i => new FileStream(Path.Combine(folder, $"{i:x2}.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
            .ToList();
        try
        {
            using var shortly = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Store.PutAsync("k", Bytes("x"), WriteCondition.CreateOnly, null, shortly.Token));
            Assert.Null(await Store.HeadAsync("k", Token));
        }
        finally
        {
            held.ForEach(f => f.Dispose());
        }

        Assert.NotNull(await Store.PutAsync("k", Bytes("x"), WriteCondition.CreateOnly, null, Token));
    }

    [Fact]
    public async Task A_listing_gives_the_ETag_size_and_time_a_head_gives_and_opens_each_unchanged_file_only_once()
    {
        await Store.PutAsync("raw/2026/11/21/10/stored", Bytes("hello"), WriteCondition.None, new Dictionary<string, string> { ["events"] = "1" }, Token);
        var hour = Path.Combine(_folder.Path, "raw", "2026", "11", "21", "10");
        await File.WriteAllTextAsync(Path.Combine(hour, "written-by-the-sink"), "{\"a\":1}\n", Token);

        async Task<List<ObjectInfo>> ListInfosAsync()
        {
            var infos = new List<ObjectInfo>();
            await foreach (var info in Store.ListAsync("raw/", null, Token))
            {
                infos.Add(info);
            }

            return infos;
        }

        var first = await ListInfosAsync();
        var opened = Store.FilesOpenedByListings;
        var again = await ListInfosAsync();

        foreach (var listed in first)
        {
            var head = await Store.HeadAsync(listed.Key, Token);
            Assert.Equal((head!.ETag, head.Size, head.LastModified), (listed.ETag, listed.Size, listed.LastModified));
        }

        Assert.Equal(2, opened);
        Assert.Equal(opened, Store.FilesOpenedByListings);
        Assert.Equal(first, again);
    }

    [Fact]
    public async Task A_listing_sees_a_replaced_object_and_a_grown_file_as_they_are_now()
    {
        await Store.PutAsync("raw/a", Bytes("first"), WriteCondition.None, null, Token);
        var sink = Path.Combine(_folder.Path, "raw", "b");
        await File.WriteAllTextAsync(sink, "12", Token);
        await foreach (var _ in Store.ListAsync("raw/", null, Token))
        {
        }

        var replaced = await Store.PutAsync("raw/a", Bytes("second!"), WriteCondition.None, null, Token);
        await File.AppendAllTextAsync(sink, "345", Token);
        var listed = new Dictionary<string, ObjectInfo>();
        await foreach (var info in Store.ListAsync("raw/", null, Token))
        {
            listed[info.Key] = info;
        }

        Assert.Equal((replaced, 7L), (listed["raw/a"].ETag, listed["raw/a"].Size));
        Assert.Equal(((await Store.HeadAsync("raw/b", Token))!.ETag, 5L), (listed["raw/b"].ETag, listed["raw/b"].Size));
    }

    [Theory]
    [InlineData("../outside")]
    [InlineData("/absolute")]
    [InlineData("a//b")]
    [InlineData("a/./b")]
    [InlineData("x.tmp")]
    public async Task Keys_that_could_escape_the_folder_or_hide_as_bookkeeping_are_refused(string key)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => Store.PutAsync(key, Bytes("x"), WriteCondition.None, null, Token));
    }
}
