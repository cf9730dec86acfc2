using System.Globalization;
using System.IO.Compression;
using IngestService.Events;
using IngestService.Storage;
using IngestService.Storage.Runs;

namespace IngestService.Regroup;

/// <summary>The first seal of a day: one streaming merge of its runs writes every sensor-day in turn.</summary>
public sealed partial class Sealer
{
    /// <summary>
    /// Writes each sensor-day of a day never sealed from one k-way merge of the day's part of each run, with
    /// <c>If-None-Match: *</c>, up to <c>Regroup:MaxParallelWrites</c> uploads at once. A sensor-day that exists
    /// already (a seal that died before its commit) is merged with it instead.
    /// </summary>
    private async Task SealStreamingAsync(
        DayPlan plan, Func<string, Func<CancellationToken, Task<(bool, int, long)>>, CancellationToken, Task> sealOne, DuplicateCounter duplicates, CancellationToken cancellationToken)
    {
        var day = plan.Day;
        var inputs = new List<IAsyncEnumerable<StoredLine>>();
        foreach (var key in plan.Runs)
        {
            inputs.Add(DayOfRunAsync(key, plan, cancellationToken));
        }

        using var uploads = new SemaphoreSlim(options.Value.MaxParallelWrites);
        var running = new List<Task>();
        SensorDayFile? current = null;
        await foreach (var line in LineMerge.MergeAsync(inputs, duplicates, cancellationToken))
        {
            if (current is null || !string.Equals(current.SensorId, line.SensorId, StringComparison.Ordinal))
            {
                if (current is not null)
                {
                    running.Add(await StartUploadAsync(current));
                }

                current = new SensorDayFile(line.SensorId);
            }

            current.Add(line);
        }

        if (current is not null)
        {
            running.Add(await StartUploadAsync(current));
        }

        await Task.WhenAll(running);

        async Task<Task> StartUploadAsync(SensorDayFile file)
        {
            await uploads.WaitAsync(cancellationToken);
            return Task.Run(async () =>
            {
                try
                {
                    await sealOne(file.SensorId, async ct =>
                    {
                        var key = SensorDayKey.For(storage.Value.SensorPrefix, file.SensorId, day);
                        if (await store.PutAsync(key, file.Finish(), WriteCondition.CreateOnly, file.Metadata, ct) is not null)
                        {
                            return (true, 0, 0L);
                        }

                        return await SealSensorDayAsync(file.SensorId, day, plan.Sensors[file.SensorId], ct);
                    }, cancellationToken);
                }
                finally
                {
                    await file.DisposeAsync();
                    uploads.Release();
                }
            }, cancellationToken);
        }
    }

    /// <summary>
    /// The lines of one day (of the plan's sensor range) in a run: one ranged GET from its first segment of them to
    /// the end of its last; segments are in sensor order, so a range is one stretch of the run.
    /// </summary>
    private async IAsyncEnumerable<StoredLine> DayOfRunAsync(string key, DayPlan plan, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var day = plan.Day;
        var index = await indexes.GetAsync(key, cancellationToken) ?? throw new IOException($"Live run {key} is missing from the store.");
        var segments = index.Segments.Where(s => s.Day == day && plan.Covers(s.SensorId)).ToList();
        if (segments.Count == 0)
        {
            yield break;
        }

        var start = segments.Min(s => s.Offset);
        var end = segments.Max(s => s.Offset + s.Length);
        await using var stored = await store.GetRangeAsync(key, new ObjectRange(start, end - start), cancellationToken)
            ?? throw new IOException($"Live run {key} is missing from the store.");
        await foreach (var line in LineReader.ReadAsync(stored.Content, cancellationToken))
        {
            if (!line.TooLong && StoredLine.TryParse(line.Bytes.Span) is { } parsed && parsed.Day == day && plan.Covers(parsed.SensorId))
            {
                yield return parsed;
            }
        }
    }

    /// <summary>One sensor-day on its way to the store: a gzip scratch file and its counts.</summary>
    private sealed class SensorDayFile : IAsyncDisposable
    {
        private readonly FileStream _file = new(Path.Combine(Scratch.Folder, $"{Guid.NewGuid():N}.day"), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None,
            64 * 1024, FileOptions.DeleteOnClose);

        private readonly GZipStream _gzip;
        private long _events, _bytes;

        public SensorDayFile(string sensorId)
        {
            SensorId = sensorId;
            _gzip = new GZipStream(_file, CompressionLevel.Optimal, leaveOpen: true);
        }

        public string SensorId { get; }

        public Dictionary<string, string> Metadata => new()
        {
            [SensorDayKey.EventsMetadata] = _events.ToString(CultureInfo.InvariantCulture),
            [SensorDayKey.BytesMetadata] = _bytes.ToString(CultureInfo.InvariantCulture),
        };

        public void Add(StoredLine line)
        {
            _gzip.Write(line.Bytes);
            _events++;
            _bytes += line.Bytes.Length;
        }

        public Stream Finish()
        {
            _gzip.Dispose();
            _file.Position = 0;
            return _file;
        }

        public async ValueTask DisposeAsync()
        {
            await _gzip.DisposeAsync();
            await _file.DisposeAsync();
        }
    }
}
