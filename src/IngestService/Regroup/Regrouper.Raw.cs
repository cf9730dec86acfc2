using IngestService.Events;

namespace IngestService.Regroup;

/// <summary>Reading raw batches into an L0 run: several at a time, bad lines counted and skipped, a cut-short batch kept pending.</summary>
public sealed partial class Regrouper
{
    /// <summary>Reads the batches (several at a time: on S3 each is a round trip), sorts their lines and writes one L0 run.</summary>
    private async Task<WrittenRun?> WriteRunAsync(List<string> batches, PassState pass, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        await using var sorter = new LineSorter(settings.MemoryBytes);
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = settings.MaxParallelWrites, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(batches, parallel, async (batch, ct) => await ReadBatchAsync(batch, sorter, pass, ct));
        var key = RunOutput.KeyFor(0, batches);
        return await RunOutput.WriteAsync(store, indexes, key, 0, sorter.SortedAsync(pass.Duplicates, cancellationToken), cancellationToken);
    }

    private async Task ReadBatchAsync(string key, LineSorter sorter, PassState pass, CancellationToken cancellationToken)
    {
        var badInBatch = 0;
        var events = 0;
        // Lines go to the shared sorter a chunk at a time: one lock per chunk, not per line.
        var chunk = new List<StoredLine>(ChunkLines);
        await using (var batch = await store.GetAsync(key, cancellationToken))
        {
            if (batch is null)
            {
                // Removed since it was listed (a lifecycle rule): nothing left to regroup.
                return;
            }

            Interlocked.Increment(ref pass.BatchesRead);
            var lineNumber = 0;
            try
            {
                await foreach (var line in LineReader.ReadAsync(batch.Content, cancellationToken))
                {
                    lineNumber++;
                    var parsed = line.TooLong ? null : StoredLine.TryParse(line.Bytes.Span);
                    if (parsed is null)
                    {
                        // A few per batch say where to look; a garbage batch must not flood the log.
                        if (++badInBatch <= MaxBadLinesLogged)
                        {
                            LogBadLine(logger, key, lineNumber, line.TooLong ? "longer than the line limit" : "not a complete stored event");
                        }

                        continue;
                    }

                    events++;
                    chunk.Add(parsed);
                    if (chunk.Count == ChunkLines)
                    {
                        sorter.Add(chunk);
                        chunk.Clear();
                    }
                }
            }
            catch (TruncatedGzipException ex)
            {
                // The object (or this read of it) ends inside a gzip member: the rest is not lost but not here.
                pass.Cut[key] = true;
                LogBatchCut(logger, key, lineNumber, ex.Message);
            }
            catch (InvalidDataException)
            {
                // Corrupt compression never heals: retrying would stall every pass on this batch. What was
                // read before the damage is kept, the rest is counted as one bad line.
                badInBatch++;
                LogBadLine(logger, key, lineNumber + 1, "the gzip data is corrupt; the rest of the batch is unreadable");
            }
        }

        sorter.Add(chunk);
        Interlocked.Add(ref pass.Events, events);
        if (badInBatch > 0)
        {
            Interlocked.Add(ref pass.BadLines, badInBatch);
            LogBadLines(logger, key, badInBatch);
        }
    }

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Skipped line {Line} of raw batch {Key}: {Reason}")]
    private static partial void LogBadLine(ILogger logger, string key, int line, string reason);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning, Message = "Raw batch {Key} had {Count} bad lines, skipped")]
    private static partial void LogBadLines(ILogger logger, string key, int count);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Warning, Message = "Raw batch {Key} is cut short after line {Line} ({Reason}); it stays pending and is read again")]
    private static partial void LogBatchCut(ILogger logger, string key, int line, string reason);
}
