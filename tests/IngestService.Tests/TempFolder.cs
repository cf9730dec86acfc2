namespace IngestService.Tests;

/// <summary>A fresh folder under the system temp folder, removed on dispose.</summary>
public sealed class TempFolder : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("ingest-tests-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A file still open by a background task; the temp folder is cleaned by the system.
        }
    }
}
