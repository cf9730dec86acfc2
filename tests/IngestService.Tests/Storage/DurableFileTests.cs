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
    public async Task A_file_written_into_folders_that_did_not_exist_is_there_whole()
    {
        var path = Path.Combine(_folder.Path, "raw", "2026", "11", "22", "10", "batch.ndjson");

        await DurableFile.WriteAsync(path, ["{\"a\":1}\n"u8.ToArray(), "{\"a\":2}\n"u8.ToArray()], CancellationToken.None);

        Assert.Equal("{\"a\":1}\n{\"a\":2}\n", await File.ReadAllTextAsync(path));
        Assert.Empty(Directory.EnumerateFiles(Path.GetDirectoryName(path)!, "*" + DurableFile.TemporarySuffix));
    }
}
