using System.Globalization;

namespace IngestService.LoadGen;

/// <summary>What one run of the load generator does; parsed from the command line.</summary>
internal sealed record LoadGenOptions
{
    public Uri Url { get; init; } = new("http://127.0.0.1:5080");

    public int Sensors { get; init; } = 100;

    /// <summary>How long sensors start new events; null when <see cref="EventsPerSensor"/> bounds the run.</summary>
    public TimeSpan? Duration { get; init; }

    public long? EventsPerSensor { get; init; }

    /// <summary>Approximate size of each event; 0 keeps the natural size (about 90 bytes).</summary>
    public int EventBytes { get; init; }

    /// <summary>
    /// Least time between the starts of a sensor's events (each sensor starts at a random point within the first one),
    /// so a fleet offers a set rate whatever the latency; zero sends the next event as soon as the last is answered.
    /// </summary>
    public TimeSpan Interval { get; init; }

    /// <summary>Pad with numeric readings of random value rather than a run of <c>x</c>, which compresses unlike real data.</summary>
    public bool RandomReadings { get; init; }

    /// <summary>Events per request; above 1 each request is an application/x-ndjson backlog batch.</summary>
    public int Batch { get; init; } = 1;

    public string? Token { get; init; }

    public bool Verify { get; init; }

    /// <summary>
    /// Where --verify flushes and reads back; null: <see cref="Url"/>. Behind a load balancer a flush can outlast its
    /// timeout and the balancer can have no node ready at that moment: one node answers for the whole store.
    /// </summary>
    public Uri? VerifyUrl { get; init; }

    /// <summary>Event timestamps run from now − spread up to now over the run, crossing UTC midnights.</summary>
    public TimeSpan TsSpread { get; init; }

    /// <summary>Leading part of a --duration run whose latencies are not recorded (JIT, connection set-up).</summary>
    public TimeSpan Warmup { get; init; }

    /// <summary>Longest wait a <c>Retry-After</c> can impose: a sensor simulator should not idle a whole run away.</summary>
    public TimeSpan MaxRetryAfter { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Keeps sensor ids apart between runs against the same store.</summary>
    public string RunId { get; init; } = Guid.NewGuid().ToString("N")[..8];

    public const string Usage = """
        Usage: IngestService.LoadGen [options]
          --url URL              service base address (default http://127.0.0.1:5080)
          --sensors N            simulated sensors, each with one request in flight (default 100)
          --duration D           how long to start new events, e.g. 20s, 500ms, 2m (default 10s)
          --events N             events per sensor instead of a duration
          --event-bytes N        pad each event with a "pad" field to about N bytes
          --random-readings      pad with numeric fields r0, r1, ... of random value instead (compresses
                                 as real readings do, for the cost model)
          --interval D           each sensor starts an event at most once per D, e.g. 8.64s (default: as
                                 soon as the last one is answered)
          --batch N              N events per request as an application/x-ndjson backlog (default 1)
          --token T              bearer token sent with every request
          --ts-spread D          spread event ts from now-D to now, e.g. 3d (default: ts = now)
          --warmup D             leave the first D of a --duration run out of latency and rate
          --max-retry-after D    cap on honoured Retry-After (default 2s)
          --run-id ID            sensor ids are lg-{ID}-{n} (default: random)
          --verify               flush, read back every sensor-day written and count missing,
                                 duplicate and out-of-order events; exit 1 when any is found
          --verify-url URL       flush and read back through this node rather than --url
        """;

    public static bool TryParse(IReadOnlyList<string> args, out LoadGenOptions options, out string? error)
    {
        options = new LoadGenOptions();
        error = null;
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            string? inline = null;
            var eq = name.IndexOf('=', StringComparison.Ordinal);
            if (name.StartsWith("--", StringComparison.Ordinal) && eq > 0)
            {
                inline = name[(eq + 1)..];
                name = name[..eq];
            }

            if (name == "--verify")
            {
                options = options with { Verify = true };
                continue;
            }

            if (name == "--random-readings")
            {
                options = options with { RandomReadings = true };
                continue;
            }

            string value;
            if (inline is not null)
            {
                value = inline;
            }
            else if (i + 1 < args.Count)
            {
                value = args[++i];
            }
            else
            {
                error = name.StartsWith("--", StringComparison.Ordinal) ? $"{name} needs a value" : $"unexpected argument '{name}'";
                return false;
            }

            switch (name)
            {
                case "--url" or "--verify-url":
                    if (!Uri.TryCreate(value, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
                    {
                        error = $"{name} '{value}' is not an http(s) address";
                        return false;
                    }

                    options = name == "--url" ? options with { Url = url } : options with { VerifyUrl = url };
                    break;
                case "--sensors":
                    if (!TryPositive(name, value, 1_000_000, out var sensors, out error))
                    {
                        return false;
                    }

                    options = options with { Sensors = (int)sensors };
                    break;
                case "--events":
                    if (!TryPositive(name, value, long.MaxValue, out var events, out error))
                    {
                        return false;
                    }

                    options = options with { EventsPerSensor = events };
                    break;
                case "--event-bytes":
                    if (!TryPositive(name, value, 16 * 1024 * 1024, out var bytes, out error))
                    {
                        return false;
                    }

                    options = options with { EventBytes = (int)bytes };
                    break;
                case "--batch":
                    if (!TryPositive(name, value, 100_000, out var batch, out error))
                    {
                        return false;
                    }

                    options = options with { Batch = (int)batch };
                    break;
                case "--token":
                    options = options with { Token = value };
                    break;
                case "--run-id":
                    if (value.Length is 0 or > 40 || !value.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-'))
                    {
                        error = "--run-id may hold only letters, digits, '_', '.' and '-' (at most 40)";
                        return false;
                    }

                    options = options with { RunId = value };
                    break;
                case "--duration":
                case "--ts-spread":
                case "--max-retry-after":
                case "--warmup":
                case "--interval":
                    if (!TryParseDuration(value, out var span) || span < TimeSpan.Zero || (name == "--duration" && span == TimeSpan.Zero))
                    {
                        error = $"{name} '{value}' is not a duration such as 500ms, 20s, 2m, 1h, 3d or 00:00:20";
                        return false;
                    }

                    options = name switch
                    {
                        "--duration" => options with { Duration = span },
                        "--ts-spread" => options with { TsSpread = span },
                        "--warmup" => options with { Warmup = span },
                        "--interval" => options with { Interval = span },
                        _ => options with { MaxRetryAfter = span },
                    };
                    break;
                default:
                    error = $"unknown option '{name}'";
                    return false;
            }
        }

        if (options.Duration is not null && options.EventsPerSensor is not null)
        {
            error = "give either --duration or --events, not both";
            return false;
        }

        if (options.Duration is null && options.EventsPerSensor is null)
        {
            options = options with { Duration = TimeSpan.FromSeconds(10) };
        }

        if (options.Warmup > TimeSpan.Zero && (options.Duration is not { } d || options.Warmup >= d))
        {
            error = "--warmup needs a --duration longer than it";
            return false;
        }

        return true;
    }

    /// <summary>Accepts <c>500ms</c>, <c>20s</c>, <c>2m</c>, <c>1h</c>, <c>3d</c>, a bare number of seconds, or a TimeSpan.</summary>
    public static bool TryParseDuration(string text, out TimeSpan value)
    {
        value = default;
        text = text.Trim();
        (string Suffix, double Scale)[] units = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)];
        foreach (var (suffix, scale) in units)
        {
            if (text.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)
                && double.TryParse(text.AsSpan(0, text.Length - suffix.Length), NumberStyles.Float, CultureInfo.InvariantCulture, out var n)
                && double.IsFinite(n))
            {
                value = TimeSpan.FromSeconds(n * scale);
                return true;
            }
        }

        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && double.IsFinite(seconds))
        {
            value = TimeSpan.FromSeconds(seconds);
            return true;
        }

        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out value);
    }

    private static bool TryPositive(string name, string value, long max, out long result, out string? error)
    {
        if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out result) || result < 1 || result > max)
        {
            error = $"{name} '{value}' must be a whole number from 1 to {max}";
            return false;
        }

        error = null;
        return true;
    }
}
