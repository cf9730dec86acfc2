namespace IngestService.Tests.Infrastructure;

/// <summary>Tests that read exact figures from an in-process host's /metrics: run after the others, alone.</summary>
[CollectionDefinition(nameof(MetricsCollection), DisableParallelization = true)]
public sealed class MetricsCollection;
