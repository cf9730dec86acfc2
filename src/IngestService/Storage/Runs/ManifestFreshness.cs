namespace IngestService.Storage.Runs;

/// <summary>How current reads are: the manifest's watermark, read with the manifest reads already cache.</summary>
public sealed class ManifestFreshness(ManifestStore manifests) : IStoreFreshness
{
    public async ValueTask<DateTimeOffset?> CurrentAsOfAsync(CancellationToken cancellationToken) =>
        (await manifests.CurrentAsync(cancellationToken)).Watermark;
}
