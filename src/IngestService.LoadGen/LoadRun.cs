using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace IngestService.LoadGen;

/// <summary>
/// Drives the simulated sensors. Each sensor keeps exactly one request in flight, as real sensors do: it
/// resends the same bytes until a 2xx, and only then moves on to its next seq.
/// </summary>
internal sealed class LoadRun(LoadGenOptions options, HttpClient client, RunStats stats, TextWriter diagnostics, TimeProvider time)
{
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan LastBackoff = TimeSpan.FromSeconds(1);

    private readonly LoadGenOptions _options = options;
    private readonly HttpClient _client = client;
    private readonly RunStats _stats = stats;
    private readonly TextWriter _diagnostics = diagnostics;
    private readonly AuthenticationHeaderValue? _authorization = options.Token is null ? null : new("Bearer", options.Token);
    private readonly TimeProvider _time = time;
    private readonly long _startUnixMs = time.GetUtcNow().ToUnixTimeMilliseconds();
    private readonly long _startTimestamp = Stopwatch.GetTimestamp();
    private int _warnedClientError;
    private int _warnedTransport;

    public IReadOnlyList<SensorLog> Sensors { get; } =
        [.. Enumerable.Range(0, options.Sensors).Select(n => new SensorLog($"lg-{options.RunId}-{n}"))];

    /// <param name="stopNew">Sensors start no new event and stop resending once this fires.</param>
    /// <param name="abort">Cancels requests still in flight.</param>
    public Task RunAsync(CancellationToken stopNew, CancellationToken abort) =>
        Task.WhenAll(Sensors.Select(s => Task.Run(() => RunSensorAsync(s, stopNew, abort), CancellationToken.None)));

    private async Task RunSensorAsync(SensorLog sensor, CancellationToken stopNew, CancellationToken abort)
    {
        var bodies = new EventBodies(_options.RunId, _options.EventBytes, _options.RandomReadings, sensor.Id);
        var body = new ArrayBufferWriter<byte>(Math.Max(256, (_options.EventBytes + 128) * _options.Batch));
        var scratch = new byte[2048];
        var ts = new long[_options.Batch];
        var uri = new Uri(_options.Url, $"v1/sensors/{sensor.Id}/events");
        var contentType = _options.Batch > 1 ? "application/x-ndjson" : "application/json";
        var limit = _options.EventsPerSensor ?? long.MaxValue;
        long seq = 0;
        var interval = _options.Interval;
        var nextStart = _time.GetTimestamp() + (long)(Random.Shared.NextDouble() * interval.TotalSeconds * _time.TimestampFrequency);
        while (seq < limit && !stopNew.IsCancellationRequested)
        {
            if (interval > TimeSpan.Zero)
            {
                // A paced sensor: its next event starts one interval after the last one started, or at once when the
                // answer took longer than that.
                var wait = _time.GetElapsedTime(_time.GetTimestamp(), nextStart);
                if (wait > TimeSpan.Zero && !await DelayAsync(wait, stopNew))
                {
                    return;
                }

                nextStart = Math.Max(nextStart, _time.GetTimestamp()) + (long)(interval.TotalSeconds * _time.TimestampFrequency);
            }

            var count = (int)Math.Min(_options.Batch, limit - seq);
            body.ResetWrittenCount();
            for (var i = 0; i < count; i++)
            {
                if (i > 0)
                {
                    body.Write("\n"u8);
                }

                ts[i] = NextTs(seq + i);
                bodies.Write(body, seq + i, ts[i]);
            }

            // One content object per event, reused by every resend; the request itself cannot be resent.
            using var content = new ReadOnlyMemoryContent(body.WrittenMemory);
            content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            if (!await SendUntilAcknowledgedAsync(uri, content, count, scratch, stopNew, abort))
            {
                return;
            }

            for (var i = 0; i < count; i++)
            {
                sensor.AckedTs.Add(ts[i]);
            }

            seq += count;
        }
    }

    /// <summary>False when <paramref name="stopNew"/> fired first.</summary>
    private async Task<bool> DelayAsync(TimeSpan wait, CancellationToken stopNew)
    {
        try
        {
            await Task.Delay(wait, _time, stopNew);
            return true;
        }
        catch (OperationCanceledException) when (stopNew.IsCancellationRequested)
        {
            return false;
        }
    }

    private async Task<bool> SendUntilAcknowledgedAsync(Uri uri, HttpContent content, int count, byte[] scratch, CancellationToken stopNew, CancellationToken abort)
    {
        var backoff = FirstBackoff;
        while (true)
        {
            // Not disposed: disposing a request disposes its content, which the next resend still needs.
            var request = new HttpRequestMessage(HttpMethod.Post, uri)
            {
                Content = content,
                Version = HttpVersion.Version11,
                VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            };
            if (_authorization is not null)
            {
                request.Headers.Authorization = _authorization;
            }

            _stats.Starting(count);
            var started = Stopwatch.GetTimestamp();
            TimeSpan? retryAfter = null;
            int status;
            try
            {
                using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, abort);
                status = (int)response.StatusCode;
                retryAfter = RetryAfter(response, _options.MaxRetryAfter);
                var read = await DrainAsync(response, scratch, abort);
                _stats.Answered(status, started, Stopwatch.GetElapsedTime(started).Ticks / 10);
                if (status is >= 400 and < 500 and not 408 and not 429 && Interlocked.Exchange(ref _warnedClientError, 1) == 0)
                {
                    await _diagnostics.WriteLineAsync(
                        $"warning: {uri.AbsolutePath} answered {status}, resending anyway as a sensor would: {Encoding.UTF8.GetString(scratch, 0, read)}");
                }
            }
            catch (OperationCanceledException) when (abort.IsCancellationRequested)
            {
                _stats.Abandoned();
                return false;
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException)
            {
                _stats.Failed();
                status = 0;
                if (Interlocked.Exchange(ref _warnedTransport, 1) == 0)
                {
                    await _diagnostics.WriteLineAsync($"warning: request to {uri.GetLeftPart(UriPartial.Authority)} failed: {ex.Message}");
                }
            }

            if (status is >= 200 and < 300)
            {
                _stats.Acknowledged(count);
                return true;
            }

            var delay = retryAfter ?? backoff;
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, LastBackoff.Ticks));
            try
            {
                await Task.Delay(delay, stopNew);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }
    }

    /// <summary>
    /// Reads the answer to its end so the connection can carry the next request; keeps its first bytes in
    /// <paramref name="scratch"/> (for a warning) and returns how many that is.
    /// </summary>
    private static async Task<int> DrainAsync(HttpResponseMessage response, byte[] scratch, CancellationToken abort)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(abort);
        var kept = 0;
        while (kept < scratch.Length)
        {
            var read = await stream.ReadAsync(scratch.AsMemory(kept), abort);
            if (read == 0)
            {
                return kept;
            }

            kept += read;
        }

        await stream.CopyToAsync(Stream.Null, abort);
        return kept;
    }

    private TimeSpan? RetryAfter(HttpResponseMessage response, TimeSpan cap)
    {
        if (response.IsSuccessStatusCode || response.Headers.RetryAfter is not { } header)
        {
            return null;
        }

        var wait = header.Delta ?? (header.Date - _time.GetUtcNow()) ?? TimeSpan.Zero;
        return wait < TimeSpan.Zero ? TimeSpan.Zero : wait > cap ? cap : wait;
    }

    /// <summary>
    /// Now, or with a spread, a point that moves from start − spread to start as the run progresses, so
    /// a sensor's events stay in order, never lie in the future, and cross UTC midnights along the way.
    /// </summary>
    private long NextTs(long seq)
    {
        if (_options.TsSpread <= TimeSpan.Zero)
        {
            return _time.GetUtcNow().ToUnixTimeMilliseconds();
        }

        var progress = _options.EventsPerSensor is { } events
            ? (double)seq / events
            : Stopwatch.GetElapsedTime(_startTimestamp) / (_options.Duration ?? TimeSpan.FromSeconds(1));
        var spreadMs = (long)_options.TsSpread.TotalMilliseconds;
        return _startUnixMs - spreadMs + (long)(Math.Clamp(progress, 0, 1) * spreadMs);
    }
}
