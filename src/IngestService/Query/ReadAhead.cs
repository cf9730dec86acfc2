using System.Runtime.CompilerServices;

namespace IngestService.Query;

/// <summary>Days fetched ahead in parallel (bounded) but handed out strictly in order.</summary>
public static class ReadAhead
{
    public static async IAsyncEnumerable<DayLines> ReadAsync(
        IEnumerable<DateOnly> days, Func<DateOnly, CancellationToken, Task<DayLines?>> read, int maxAhead, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var next = days.GetEnumerator();
        var ahead = new Queue<Task<DayLines?>>();
        try
        {
            var more = true;
            while (true)
            {
                while (more && ahead.Count < maxAhead && (more = next.MoveNext()))
                {
                    var day = next.Current;
                    ahead.Enqueue(Task.Run(() => read(day, stop.Token), stop.Token));
                }

                if (ahead.Count == 0)
                {
                    yield break;
                }

                if (await ahead.Dequeue() is { } lines)
                {
                    yield return lines;
                }
            }
        }
        finally
        {
            await stop.CancelAsync();
            foreach (var task in ahead)
            {
                try
                {
                    (await task)?.Dispose();
                }
                catch (Exception) when (stop.IsCancellationRequested)
                {
                    // Read-ahead abandoned because the client left or an earlier day failed: that first
                    // failure is the one that propagates.
                }
            }
        }
    }
}
