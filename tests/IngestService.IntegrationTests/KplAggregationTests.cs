using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net;
using System.Text.Json.Nodes;
using System.Text.Json;
using System.Text;
using IngestService.Aws;
using IngestService.Delivery.Kpl;
using IngestService.Tests.Infrastructure;

namespace IngestService.IntegrationTests;

/// <summary>
/// KPL aggregation against moto's Kinesis with four shards, read back with boto-equivalent calls and taken
/// apart by the official deaggregator (npm <c>aws-kinesis-agg</c>), not by the service's own code.
/// </summary>
[Collection(MotoCollection.Name)]
public sealed class KplAggregationTests(MotoFixture moto)
{
    private const string Stream = "ingest-it-kpl";

    [Fact]
    public async Task Aggregated_records_deaggregate_to_exactly_the_acknowledged_events_each_on_its_sensors_shard_in_order()
    {
        using var connection = moto.Connection(moto.Admin);
        var kinesis = new KinesisClient(connection);
        await kinesis.CreateStreamAsync(new CreateStreamRequest(Stream, 4, null));
        var settings = moto.Settings(moto.Endpoint, new()
        {
            ["Aws:KinesisStream"] = Stream,
            ["Aws:KinesisAggregation"] = "Kpl",
        });
        await using var app = new IngestAppFactory(settings, backend: TestBackend.Aws, awsCredentials: moto.Service);
        using var client = app.CreateClient();
        var sensors = Enumerable.Range(1, 40).Select(i => $"kpl-{i}").ToArray();

        await Task.WhenAll(sensors.Select(async sensor =>
        {
            for (var seq = 1; seq <= 5; seq++)
            {
                using var content = new ByteArrayContent(Encoding.UTF8.GetBytes($"{{\"ts\":\"2026-11-21T10:00:0{seq}Z\",\"seq\":{seq}}}"));
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                using var response = await client.PostAsync($"/v1/sensors/{sensor}/events", content);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }
        }));

        var records = await ReadStreamAsync(kinesis);
        var users = await DeaggregateWithOfficialLibraryAsync(records);

        Assert.True(records.Count < users.Count / 4, $"{records.Count} Kinesis records for {users.Count} events");
        var sent = sensors.SelectMany(s => Enumerable.Range(1, 5).Select(seq => (s, seq))).Order().ToList();
        var got = users.Select(u => (Sensor: u.PartitionKey, Seq: JsonNode.Parse(u.Data)!["seq"]!.GetValue<int>())).ToList();
        Assert.Equal(sent, got.Order().ToList());
        Assert.All(users, u => Assert.Equal(u.PartitionKey, JsonNode.Parse(u.Data)!["sensorId"]!.GetValue<string>()));

        var map = new ShardMap((await kinesis.ListShardsAsync(new ListShardsRequest(Stream))).Shards);
        Assert.Equal(4, map.Count);
        Assert.All(users, u => Assert.Equal(map.ShardId(map.ShardOf(u.PartitionKey)), u.ShardId));
        Assert.True(users.Select(u => u.ShardId).Distinct().Count() > 1, "all events landed on one shard");
        foreach (var sensor in sensors)
        {
            Assert.Equal([1, 2, 3, 4, 5], got.Where(g => g.Sensor == sensor).Select(g => g.Seq));
        }
    }

    private static async Task<List<(string ShardId, KinesisRecord Record)>> ReadStreamAsync(KinesisClient kinesis)
    {
        var records = new List<(string, KinesisRecord)>();
        foreach (var shard in (await kinesis.ListShardsAsync(new ListShardsRequest(Stream))).Shards)
        {
            var iterator = (await kinesis.GetShardIteratorAsync(new GetShardIteratorRequest(Stream, shard.ShardId, "TRIM_HORIZON"))).ShardIterator;
            while (true)
            {
                var batch = await kinesis.GetRecordsAsync(new GetRecordsRequest(iterator, 10000));
                records.AddRange(batch.Records.Select(r => (shard.ShardId, r)));
                if (batch.Records.Count == 0 || batch.NextShardIterator is null)
                {
                    break;
                }

                iterator = batch.NextShardIterator;
            }
        }

        return records;
    }

    private static async Task<List<(string ShardId, string PartitionKey, string Data)>> DeaggregateWithOfficialLibraryAsync(List<(string ShardId, KinesisRecord Record)> records)
    {
        var folder = Path.Combine(MotoFixture.RepositoryRoot(), "tests", "kpl-deaggregator");
        if (!Directory.Exists(Path.Combine(folder, "node_modules", "aws-kinesis-agg")))
        {
            var (code, output) = await RunAsync("npm", ["ci", "--no-audit", "--no-fund"], folder, null);
            Assert.True(code == 0, $"`npm ci` in {folder} failed (the test needs Node.js and the npm registry): {output}");
        }

        var input = new JsonArray([.. records.Select(r => (JsonNode)new JsonObject
        {
            ["shardId"] = r.ShardId,
            ["partitionKey"] = r.Record.PartitionKey,
            ["sequenceNumber"] = r.Record.SequenceNumber,
            ["data"] = Convert.ToBase64String(r.Record.Data),
        })]).ToJsonString();
        var (exit, text) = await RunAsync("node", ["deaggregate.js"], folder, input);
        Assert.True(exit == 0, $"the official deaggregator failed: {text}");
        return [.. JsonDocument.Parse(text).RootElement.EnumerateArray().Select(u =>
            (u.GetProperty("shardId").GetString()!, u.GetProperty("partitionKey").GetString()!, u.GetProperty("data").GetString()!))];
    }

    private static async Task<(int Code, string Output)> RunAsync(string file, string[] args, string folder, string? stdin)
    {
        var start = new ProcessStartInfo(file, args)
        {
            WorkingDirectory = folder,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
        }

        process.StandardInput.Close();
        await process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromMinutes(3)).Token);
        return (process.ExitCode, (await stdout) + (await stderr));
    }
}
