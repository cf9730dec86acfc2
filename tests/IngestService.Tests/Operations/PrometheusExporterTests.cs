using System.Diagnostics.Metrics;
using IngestService.Operations;

namespace IngestService.Tests.Operations;

public sealed class PrometheusExporterTests : IDisposable
{
    private readonly ScopedMeterFactory _factory = new();
    private readonly PrometheusExporter _exporter;
    private readonly Meter _meter;

    public PrometheusExporterTests()
    {
        _exporter = new PrometheusExporter(_factory);
        _meter = _factory.Create(new MeterOptions(IngestMetrics.MeterName));
    }

    public void Dispose()
    {
        _exporter.Dispose();
        _meter.Dispose();
    }

    [Fact]
    public void A_counter_is_a_total_per_label_set_with_escaped_values()
    {
        var counter = _meter.CreateCounter<long>("requests", "{request}", "Requests by reason");
        counter.Add(2, new KeyValuePair<string, object?>("reason", "bad \"json\"\n"));
        counter.Add(3, new KeyValuePair<string, object?>("reason", "bad \"json\"\n"));
        counter.Add(1, new KeyValuePair<string, object?>("reason", "too_large"));

        var text = _exporter.Scrape();

        Assert.Contains("# HELP requests_total Requests by reason\n# TYPE requests_total counter\n", text);
        Assert.Contains("requests_total{reason=\"bad \\\"json\\\"\\n\"} 5\n", text);
        Assert.Contains("requests_total{reason=\"too_large\"} 1\n", text);
    }

    [Fact]
    public void A_histogram_has_cumulative_buckets_on_its_advised_boundaries_then_sum_and_count()
    {
        var histogram = _meter.CreateHistogram<double>("latency", "s", "Latency",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.1, 1] });
        histogram.Record(0.05);
        histogram.Record(0.1);
        histogram.Record(0.5);
        histogram.Record(7);

        var text = _exporter.Scrape();

        Assert.Contains(
            "# TYPE latency_seconds histogram\n" +
            "latency_seconds_bucket{le=\"0.1\"} 2\n" +
            "latency_seconds_bucket{le=\"1\"} 3\n" +
            "latency_seconds_bucket{le=\"+Inf\"} 4\n" +
            "latency_seconds_sum 7.65\n" +
            "latency_seconds_count 4\n",
            text);
    }

    [Fact]
    public void A_gauge_shows_its_value_at_scrape_time_with_the_bytes_suffix()
    {
        long pending = 3;
        _meter.CreateObservableGauge("pending", () => pending, "By", "Pending bytes");
        Assert.Contains("pending_bytes 3\n", _exporter.Scrape());

        pending = 42;
        Assert.Contains("pending_bytes 42\n", _exporter.Scrape());
    }

    [Fact]
    public void Other_meters_of_the_same_host_such_as_aspnetcores_are_not_exposed()
    {
        using var hosting = _factory.Create(new MeterOptions("Microsoft.AspNetCore.Hosting"));
        hosting.CreateCounter<long>("http_server_requests").Add(1);

        Assert.DoesNotContain("http_server_requests", _exporter.Scrape());
    }

    [Fact]
    public void A_name_that_already_ends_in_its_unit_is_not_suffixed_twice()
    {
        _meter.CreateCounter<long>("sink_bytes", "By").Add(5);

        Assert.Contains("sink_bytes_total 5\n", _exporter.Scrape());
    }

    [Fact]
    public void Meters_of_another_host_in_the_same_process_are_not_exposed()
    {
        using var otherFactory = new ScopedMeterFactory();
        using var other = otherFactory.Create(new MeterOptions(IngestMetrics.MeterName));
        other.CreateCounter<long>("someone_elses").Add(1);

        Assert.DoesNotContain("someone_elses", _exporter.Scrape());
    }

    [Fact]
    public void Every_sample_line_has_a_valid_metric_name_and_a_number()
    {
        _meter.CreateCounter<long>("with.dots-and-dashes").Add(1, new KeyValuePair<string, object?>("sink", "firehose"));
        _meter.CreateHistogram<long>("sizes", "By").Record(100);

        var lines = _exporter.Scrape().Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith('#'));

        Assert.All(lines, line => Assert.Matches("^[a-zA-Z_:][a-zA-Z0-9_:]*(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\"(,[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\")*\\})? (-?[0-9.eE+-]+|\\+Inf|NaN)$", line));
    }

    private sealed class ScopedMeterFactory : IMeterFactory
    {
        public Meter Create(MeterOptions options)
        {
            options.Scope = this;
            return new Meter(options);
        }

        public void Dispose()
        {
        }
    }
}
