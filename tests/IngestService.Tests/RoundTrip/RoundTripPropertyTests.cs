using System.Net;
using System.Text;
using System.Text.Json;
using IngestService.Tests.Query;

namespace IngestService.Tests.RoundTrip;

/// <summary>
/// The promise behind "acknowledged means stored", over thousands of generated events: what ingest accepts,
/// regroup stores, and every read format gives back as it was sent. Set <c>ROUNDTRIP_SEED</c> to replay a
/// failing run; every failure message names its seed.
/// </summary>
public sealed class RoundTripPropertyTests(RoundTripPropertyTests.Run run) : IClassFixture<RoundTripPropertyTests.Run>
{
    public static TheoryData<string> Formats()
    {
        var data = new TheoryData<string>();
        foreach (var name in ReadFormats.All.Keys)
        {
            data.Add(name);
        }

        return data;
    }

    [Fact]
    public void Ingest_accepts_every_valid_event_and_rejects_every_invalid_one_with_a_400_problem()
    {
        Assert.True(run.Accepted.Count >= 3000, $"seed {run.Seed}: only {run.Accepted.Count} events accepted");
        Assert.True(run.Rejected >= 50, $"seed {run.Seed}: only {run.Rejected} invalid events tried");
        Assert.True(run.Mismatches.Count == 0, $"seed {run.Seed}: {run.Mismatches.Count} answers differ from the contract, first: {run.Mismatches.FirstOrDefault()}");
    }

    [Fact]
    public void Regroup_reads_every_stored_line()
    {
        Assert.True(run.Flush.GetProperty("badLines").GetInt64() == 0, $"seed {run.Seed}: regroup found bad lines: {run.Flush}");
        Assert.True(run.Flush.GetProperty("events").GetInt64() >= run.Accepted.Count, $"seed {run.Seed}: regroup read fewer events than were accepted: {run.Flush}");
    }

    [Theory]
    [MemberData(nameof(Formats))]
    public async Task Every_accepted_event_reads_back_as_sent_in_each_format(string format)
    {
        var read = ReadFormats.All[format];
        foreach (var day in run.Accepted.GroupBy(e => (e.SensorId, e.Day)))
        {
            var where = $"seed {run.Seed}, {format}, sensor {day.Key.SensorId}, day {day.Key.Day}";
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/sensors/{day.Key.SensorId}/days/{day.Key.Day}");
            request.Headers.Accept.ParseAdd(read.Accept);
            using var response = await run.Client.SendAsync(request, run.Token);
            var body = await response.Content.ReadAsByteArrayAsync(run.Token);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{where}: {(int)response.StatusCode} {Encoding.UTF8.GetString(body)}");

            var rows = read.Decode(body);
            var expected = day.ToDictionary(e => e.Id);
            Assert.True(rows.Count == expected.Count, $"{where}: {rows.Count} rows for {expected.Count} distinct events");
            var previous = (Ts: DateTimeOffset.MinValue, Seq: (long?)null);
            foreach (var row in rows)
            {
                var id = row.Fields.GetValueOrDefault("id");
                Assert.True(id is not null && expected.ContainsKey(id), $"{where}: a row that was never sent: {row}");
                var sent = expected[id];
                var at = $"{where}, event {id} sent as {sent.Body}";
                Assert.True(row.SensorId == sent.SensorId && row.Ts == sent.Ts && row.Seq == sent.Seq?.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    $"{at}: envelope {row.SensorId} {row.Seq} {row.Ts}, expected {sent.SensorId} {sent.Seq} {sent.Ts}");
                Assert.True(row.Event is null || row.Event == sent.Stored, $"{at}: event read back as {row.Event}");
                foreach (var (name, text) in sent.Fields)
                {
                    Assert.True((row.Fields.GetValueOrDefault(name) ?? "") == (text ?? ""), $"{at}: field {name} read back as {row.Fields.GetValueOrDefault(name)}, expected {text}");
                }

                Assert.True(row.Fields.All(f => sent.Fields.ContainsKey(f.Key) || string.IsNullOrEmpty(f.Value)), $"{at}: fields it never had: {string.Join(",", row.Fields.Keys.Except(sent.Fields.Keys))}");

                // Stored order: ts, then seq with none first.
                var current = (Ts: DateTimeOffset.Parse(row.Ts, System.Globalization.CultureInfo.InvariantCulture), Seq: sent.Seq);
                Assert.True(current.Ts > previous.Ts || (current.Ts == previous.Ts && Nullable.Compare(previous.Seq, current.Seq) <= 0), $"{at}: out of order after {previous}");
                previous = current;
            }
        }
    }

    /// <summary>Generates the events, sends them as sensors would, and regroups once for all the tests.</summary>
    public sealed class Run : IAsyncLifetime
    {
        private const int Sensors = 6;
        private const int EventsPerSensor = 560;
        private readonly QueryApp _app = new();
        private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(4));
        private readonly HashSet<string> _acceptedIds = [];

        public Run()
        {
            Seed = int.TryParse(Environment.GetEnvironmentVariable("ROUNDTRIP_SEED"), out var seed) ? seed : Random.Shared.Next();
            Client = _app.CreateClient();
        }

        public int Seed { get; }

        public HttpClient Client { get; }

        public CancellationToken Token => _timeout.Token;

        public List<GeneratedEvent> Accepted { get; } = [];

        public int Rejected { get; private set; }

        public List<string> Mismatches { get; } = [];

        public JsonElement Flush { get; private set; }

        public async Task InitializeAsync()
        {
            var generator = new EventGenerator(Seed);
            var random = new Random(Seed);

            // Generated up front, in one order, so a seed always gives the same events; then each sensor
            // sends its own one request at a time, as the protocol has it.
            var plans = new List<List<(List<GeneratedEvent> Events, bool Backlog, bool Resend)>>();
            for (var s = 0; s < Sensors; s++)
            {
                var sensor = $"rt-{s}";
                var plan = new List<(List<GeneratedEvent>, bool, bool)>();
                for (var n = 0; n < EventsPerSensor;)
                {
                    var backlog = random.Next(3) > 0;
                    var count = backlog ? random.Next(1, 60) : 1;
                    var events = Enumerable.Range(0, count).Select(_ => generator.Next(sensor, newlines: !backlog, invalid: random.Next(25) == 0)).ToList();
                    plan.Add((events, backlog, random.Next(20) == 0));
                    n += events.Count(e => e.Valid);
                }

                plans.Add(plan);
            }

            await Task.WhenAll(plans.Select(SendAsync));
            using var flush = await Client.PostAsync("/v1/admin/flush", null, Token);
            Flush = JsonDocument.Parse(await flush.Content.ReadAsStringAsync(Token)).RootElement.Clone();
        }

        private async Task SendAsync(List<(List<GeneratedEvent> Events, bool Backlog, bool Resend)> plan)
        {
            foreach (var (events, backlog, resend) in plan)
            {
                if (!backlog)
                {
                    for (var attempt = resend ? 2 : 1; attempt > 0; attempt--)
                    {
                        await PostAsync(events, "application/json", events[0].Body, events[0].Valid);
                    }

                    continue;
                }

                // A backlog is all or nothing: with an invalid line it is refused whole, and the sensor sends
                // the rest again.
                var valid = events.Where(e => e.Valid).ToList();
                if (valid.Count < events.Count)
                {
                    await PostAsync(events, "application/x-ndjson", Backlog(events), expectStored: false);
                }

                if (valid.Count > 0)
                {
                    await PostAsync(valid, "application/x-ndjson", Backlog(valid), expectStored: true);
                }
            }
        }

        private static string Backlog(IEnumerable<GeneratedEvent> events) => string.Concat(events.Select(e => e.Body + "\n"));

        private async Task PostAsync(List<GeneratedEvent> events, string contentType, string body, bool expectStored)
        {
            using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
            content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            using var response = await Client.PostAsync($"/v1/sensors/{events[0].SensorId}/events", content, Token);
            var answer = await response.Content.ReadAsStringAsync(Token);
            lock (Mismatches)
            {
                if (expectStored && response.StatusCode == HttpStatusCode.OK)
                {
                    Accepted.AddRange(events.Where(e => _acceptedIds.Add(e.Id)));
                }
                else if (!expectStored && response.StatusCode == HttpStatusCode.BadRequest && response.Content.Headers.ContentType?.MediaType == "application/problem+json")
                {
                    Rejected += events.Count(e => !e.Valid);
                }
                else
                {
                    var what = expectStored ? "valid" : "invalid (" + string.Join(", ", events.Where(e => !e.Valid).Select(e => e.Why)) + ")";
                    Mismatches.Add($"{(int)response.StatusCode} {answer} for {what} {contentType} {body}");
                }
            }
        }

        public Task DisposeAsync()
        {
            Client.Dispose();
            _app.Dispose();
            _timeout.Dispose();
            return Task.CompletedTask;
        }
    }
}
