using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace IngestService.IntegrationTests;

/// <summary>The sensor-day store on the Aws backend: Firehose's raw objects in moto's S3 regrouped into sensor-days.</summary>
[Collection(OpenMotoCollection.Name)]
public sealed class S3RegroupTests(OpenMotoFixture moto)
{
    [Fact]
    public async Task Raw_batches_in_S3_become_one_gzip_object_per_sensor_day_with_each_event_once_in_order()
    {
        await using var app = new AwsAppFactory(moto, moto.Endpoint, moto.Service);
        using var client = app.CreateClient();
        var sensor = $"day-{Guid.NewGuid():N}"[..20];

        // Out of order, across midnight, and resent: as sensors really send.
        string[] events =
        [
            "{\"ts\":\"2026-11-21T23:59:59Z\",\"seq\":2}",
            "{\"ts\":\"2026-11-21T23:00:00Z\",\"seq\":1}",
            "{\"ts\":\"2026-11-22T00:00:01Z\",\"seq\":3}",
            "{\"ts\":\"2026-11-21T23:00:00Z\",\"seq\":1}",
        ];
        foreach (var e in events)
        {
            using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(e));
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"/v1/sensors/{sensor}/events", content)).StatusCode);
        }

        using var flush = await client.PostAsync("/v1/admin/flush", null);
        Assert.True(flush.IsSuccessStatusCode, await flush.Content.ReadAsStringAsync());
        using var again = await client.PostAsync("/v1/admin/flush", null);
        Assert.True(again.IsSuccessStatusCode, await again.Content.ReadAsStringAsync());

        var first = await client.GetStringAsync($"/v1/sensors/{sensor}/days/2026-11-21");
        Assert.Equal([1, 2], first.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("seq").GetInt32()));
        var second = await client.GetStringAsync($"/v1/sensors/{sensor}/days/2026-11-22");
        Assert.Equal([3], second.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("seq").GetInt32()));

        using var s3 = moto.AdminS3();
        using var stored = await s3.GetObjectAsync(moto.Bucket, $"sensors/{sensor}/2026-11-21.ndjson.gz");
        using var gunzip = new StreamReader(new GZipStream(stored.ResponseStream, CompressionMode.Decompress));
        Assert.Equal(2, (await gunzip.ReadToEndAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal("2", stored.Metadata["events"]);
    }
}
