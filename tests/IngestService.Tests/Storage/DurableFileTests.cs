using IngestService.Storage;

namespace IngestService.Tests.Storage;

public sealed class DurableFileTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void A_new_day_and_hour_folder_flush_the_month_folder_that_holds_the_new_day_entry_and_the_day_folder()
    {
        var month = Path.Combine(_folder.Path, "raw", "2026", "11");
        Directory.CreateDirectory(month);

        var flushed = DurableFile.CreateDirectory(Path.Combine(month, "22", "10"));

        Assert.Equal([month, Path.Combine(month, "22")], flushed);
    }

    [Fact]
    public void An_existing_folder_flushes_nothing()
    {
        Assert.Empty(DurableFile.CreateDirectory(_folder.Path));
    }

    [Fact]
    public async Task A_window_that_finds_a_new_folder_another_window_is_still_flushing_waits_for_that_flush()
    {
        var month = Path.Combine(_folder.Path, "raw", "2026", "11");
        Directory.CreateDirectory(month);
        var hour = Path.Combine(month, "22", "10");
        using var flushing = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var first = Task.Run(() => DurableFile.CreateDirectory(hour, folder =>
        {
            flushing.Set();
            Assert.True(release.Wait(TimeSpan.FromSeconds(30)));
            DurableFile.SyncDirectory(folder);
        }));
        Assert.True(flushing.Wait(TimeSpan.FromSeconds(30)));

        // The first window has made the folder but its parent's flush has not returned: the folder is not yet
        // durable, so a second window's events must not be acknowledged on it.
        var second = Task.Run(() => DurableFile.CreateDirectory(hour));
        var finishedEarly = await Task.WhenAny(second, Task.Delay(TimeSpan.FromMilliseconds(300))) == second;
        release.Set();

        Assert.False(finishedEarly, "the second window returned while the first one's flush of the new folder was still running");
        Assert.Equal([month, Path.Combine(month, "22")], await first);
        Assert.Empty(await second);
    }

    [Fact]
    public void A_flush_that_fails_is_tried_again_by_the_next_window()
    {
        var folder = Path.Combine(_folder.Path, "raw", "2026", "11", "23");

        Assert.Throws<IOException>(() => DurableFile.CreateDirectory(folder, _ => throw new IOException("disk gone")));

        Assert.NotEmpty(DurableFile.CreateDirectory(folder));
    }

    [Fact]
    public async Task A_file_written_into_folders_that_did_not_exist_is_there_whole()
    {
        var path = Path.Combine(_folder.Path, "raw", "2026", "11", "22", "10", "batch.ndjson");

        await DurableFile.WriteAsync(path, ["{\"a\":1}\n"u8.ToArray(), "{\"a\":2}\n"u8.ToArray()], CancellationToken.None);

        Assert.Equal("{\"a\":1}\n{\"a\":2}\n", await File.ReadAllTextAsync(path));
        Assert.Empty(Directory.EnumerateFiles(Path.GetDirectoryName(path)!, "*" + DurableFile.TemporarySuffix));
    }
}
