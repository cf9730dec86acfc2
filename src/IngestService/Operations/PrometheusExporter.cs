using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace IngestService.Operations;

/// <summary>
/// A small Prometheus text-format (0.0.4) exposition of <see cref="System.Diagnostics.Metrics"/> instruments,
/// written by hand because the OpenTelemetry Prometheus exporter is not served by the package registry here.
/// Counters become <c>_total</c>, histograms cumulative <c>_bucket</c>/<c>_sum</c>/<c>_count</c> on the
/// instrument's advised boundaries, gauges their last observed value; units <c>s</c> and <c>By</c> become
/// the <c>_seconds</c> and <c>_bytes</c> suffixes.
/// </summary>
public sealed class PrometheusExporter : IDisposable
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private static readonly double[] DefaultBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<Instrument, Family> _families = new();

    /// <summary>
    /// Exposes the service's own meter as created by <paramref name="meterFactory"/>, and no other host's.
    /// ASP.NET Core's meters share the factory but are left out: they measure every request with several
    /// tags, and formatting those label sets cost more CPU than the ingest path itself.
    /// </summary>
    public PrometheusExporter(IMeterFactory meterFactory)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, meterFactory) && instrument.Meter.Name == IngestMetrics.MeterName)
            {
                var family = _families.GetOrAdd(instrument, i => new Family(i));
                listener.EnableMeasurementEvents(instrument, family);
            }
        };
        _listener.MeasurementsCompleted = (instrument, _) => _families.TryRemove(instrument, out Family? _);
        _listener.SetMeasurementEventCallback<long>((_, value, tags, state) => ((Family)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<int>((_, value, tags, state) => ((Family)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<double>((_, value, tags, state) => ((Family)state!).Record(value, tags));
        _listener.Start();
    }

    /// <summary>Observes the gauges, then writes every family in a stable order.</summary>
    public string Scrape()
    {
        _listener.RecordObservableInstruments();
        var text = new StringBuilder();
        foreach (var family in _families.Values.OrderBy(f => f.Name, StringComparer.Ordinal))
        {
            family.WriteTo(text);
        }

        return text.ToString();
    }

    public void Dispose() => _listener.Dispose();

    private enum Kind
    {
        Counter,
        Gauge,
        Histogram,
    }

    /// <summary>One instrument: its series by label set. Measurements lock only their own series.</summary>
    private sealed class Family
    {
        private readonly ConcurrentDictionary<string, Series> _series = new(StringComparer.Ordinal);
        private readonly Series _unlabelled;
        private readonly Kind _kind;
        private readonly double[] _boundaries;
        private readonly string _help;

        public Family(Instrument instrument)
        {
            _kind = instrument switch
            {
                Counter<long> or Counter<int> or Counter<double> or ObservableCounter<long> or ObservableCounter<double> => Kind.Counter,
                Histogram<long> or Histogram<int> or Histogram<double> => Kind.Histogram,
                _ => Kind.Gauge,
            };
            _boundaries = instrument switch
            {
                Histogram<double> { Advice.HistogramBucketBoundaries: { } b } => [.. b],
                Histogram<long> { Advice.HistogramBucketBoundaries: { } b } => [.. b.Select(x => (double)x)],
                _ => DefaultBoundaries,
            };
            var suffix = instrument.Unit switch
            {
                "s" => "_seconds",
                "By" => "_bytes",
                _ => string.Empty,
            };
            var name = Sanitize(instrument.Name);
            Name = name.EndsWith(suffix, StringComparison.Ordinal) ? name : name + suffix;
            _help = instrument.Description ?? instrument.Name;
            _unlabelled = new Series(string.Empty, _boundaries.Length);
        }

        public string Name { get; }

        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var series = tags.IsEmpty ? _unlabelled : _series.GetOrAdd(Labels(tags), l => new Series(l, _boundaries.Length));
            lock (series)
            {
                switch (_kind)
                {
                    case Kind.Counter:
                        series.Sum += value;
                        break;
                    case Kind.Gauge:
                        series.Sum = value;
                        break;
                    default:
                        var bucket = Array.BinarySearch(_boundaries, value);
                        series.Buckets[bucket >= 0 ? bucket : ~bucket]++;
                        series.Sum += value;
                        series.Count++;
                        break;
                }

                series.Seen = true;
            }
        }

        public void WriteTo(StringBuilder text)
        {
            var type = _kind switch { Kind.Counter => "counter", Kind.Gauge => "gauge", _ => "histogram" };
            var name = _kind == Kind.Counter ? Name + "_total" : Name;
            text.Append("# HELP ").Append(name).Append(' ').Append(_help.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal)).Append('\n');
            text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
            foreach (var series in _series.Values.Prepend(_unlabelled).Where(s => s.Seen || (s == _unlabelled && _series.IsEmpty)).OrderBy(s => s.Labels, StringComparer.Ordinal))
            {
                lock (series)
                {
                    if (_kind != Kind.Histogram)
                    {
                        Sample(text, name, series.Labels, null, series.Sum);
                        continue;
                    }

                    long cumulative = 0;
                    for (var i = 0; i < _boundaries.Length; i++)
                    {
                        cumulative += series.Buckets[i];
                        Sample(text, Name + "_bucket", series.Labels, Format(_boundaries[i]), cumulative);
                    }

                    Sample(text, Name + "_bucket", series.Labels, "+Inf", series.Count);
                    Sample(text, Name + "_sum", series.Labels, null, series.Sum);
                    Sample(text, Name + "_count", series.Labels, null, series.Count);
                }
            }
        }

        private static void Sample(StringBuilder text, string name, string labels, string? le, double value)
        {
            text.Append(name);
            if (labels.Length > 0 || le is not null)
            {
                text.Append('{').Append(labels);
                if (le is not null)
                {
                    text.Append(labels.Length > 0 ? "," : string.Empty).Append("le=\"").Append(le).Append('"');
                }

                text.Append('}');
            }

            text.Append(' ').Append(Format(value)).Append('\n');
        }

        private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var pairs = new List<KeyValuePair<string, object?>>(tags.Length);
            pairs.AddRange(tags);
            pairs.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
            return string.Join(',', pairs.Select(p => $"{Sanitize(p.Key)}=\"{Escape(Convert.ToString(p.Value, CultureInfo.InvariantCulture) ?? string.Empty)}\""));
        }
    }

    private sealed class Series(string labels, int boundaries)
    {
        public string Labels { get; } = labels;

        public long[] Buckets { get; } = new long[boundaries + 1];

        public double Sum { get; set; }

        public long Count { get; set; }

        public bool Seen { get; set; }
    }

    private static string Format(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf" : double.IsNegativeInfinity(value) ? "-Inf" : double.IsNaN(value) ? "NaN" : value.ToString("R", CultureInfo.InvariantCulture);

    internal static string Sanitize(string name)
    {
        var chars = name.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            if (!char.IsAsciiLetterOrDigit(chars[i]) && chars[i] != '_' && chars[i] != ':')
            {
                chars[i] = '_';
            }
        }

        return char.IsAsciiDigit(chars[0]) ? "_" + new string(chars) : new string(chars);
    }

    internal static string Escape(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
