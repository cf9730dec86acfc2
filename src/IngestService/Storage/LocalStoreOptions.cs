using System.ComponentModel.DataAnnotations;

namespace IngestService.Storage;

/// <summary>Where the <c>Local</c> backend keeps its raw batches and store: <c>Ingest:DataPath</c>, as the contract names it.</summary>
public sealed class LocalStoreOptions
{
    public const string Section = "Ingest";

    /// <summary>Root folder of the <c>Local</c> backend. Default <c>data</c>.</summary>
    [Required]
    public string DataPath { get; set; } = "data";
}
