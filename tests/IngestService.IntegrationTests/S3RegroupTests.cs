using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using IngestService.Tests.Infrastructure;

namespace IngestService.IntegrationTests;

/// <summary>The sensor-day store on the Aws backend: Firehose's raw objects in moto's S3 regrouped into sensor-days.</summary>
[Collection(OpenMotoCollection.Name)]
public sealed class S3RegroupTests(OpenMotoFixture moto)
{
    [Fact]
    public async Task Raw_batches_in_S3_become_one_gzip_object_per_sensor_day_with_each_event_once_in_order()
    {
        await using var app = new IngestAppFactory(moto.Settings(moto.Endpoint), backend: TestBackend.Aws, awsCredentials: moto.Service);
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

    [Fact]
    public async Task Later_events_are_appended_to_the_one_S3_object_a_gzip_raw_object_of_many_members_is_read_and_reads_get_a_watermark()
    {
        await using var app = new IngestAppFactory(moto.Settings(moto.Endpoint), backend: TestBackend.Aws, awsCredentials: moto.Service);
        using var client = app.CreateClient();
        var sensor = $"app-{Guid.NewGuid():N}"[..20];
        using var first = new StringContent("{\"ts\":\"2026-11-21T10:00:00Z\",\"seq\":1}", Encoding.UTF8, "application/json");
        first.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"/v1/sensors/{sensor}/events", first)).StatusCode);
        using (var flush = await client.PostAsync("/v1/admin/flush", null))
        {
            Assert.True(flush.IsSuccessStatusCode, await flush.Content.ReadAsStringAsync());
        }

        // A compressed Firehose object: one gzip member per record, so several members in one S3 object.
        using var raw = new MemoryStream();
        foreach (var seq in new[] { 2, 3 })
        {
            using var member = new GZipStream(raw, CompressionLevel.Fastest, leaveOpen: true);
            member.Write(Encoding.UTF8.GetBytes($"{{\"sensorId\":\"{sensor}\",\"seq\":{seq},\"ts\":\"2026-11-21T11:00:0{seq}.000Z\",\"receivedAt\":\"2026-11-21T11:00:0{seq}.000Z\",\"event\":{{\"ts\":\"2026-11-21T11:00:0{seq}Z\",\"seq\":{seq}}}}}\n"));
        }

        using var s3 = moto.AdminS3();
        raw.Position = 0;
        await s3.PutObjectAsync(new Amazon.S3.Model.PutObjectRequest { BucketName = moto.Bucket, Key = $"raw/2026/11/21/11/ingest-raw-1-2026-11-21-11-00-00-{sensor}.gz", InputStream = raw });
        using (var flush = await client.PostAsync("/v1/admin/flush", null))
        {
            Assert.True(flush.IsSuccessStatusCode, await flush.Content.ReadAsStringAsync());
        }

        var day = await client.GetStringAsync($"/v1/sensors/{sensor}/days/2026-11-21");
        Assert.Equal([1, 2, 3], day.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("seq").GetInt32()));
        var head = await s3.GetObjectMetadataAsync(moto.Bucket, $"sensors/{sensor}/2026-11-21.ndjson.gz");
        Assert.Equal("3", head.Metadata["events"]);
        Assert.NotNull(await ((IngestService.Storage.IStoreFreshness)app.Services.GetService(typeof(IngestService.Storage.IStoreFreshness))!).CurrentAsOfAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Todays_events_are_read_from_runs_by_ranged_GETs_before_the_day_is_sealed_in_every_representation()
    {
        await using var app = new IngestAppFactory(moto.Settings(moto.Endpoint), backend: TestBackend.Aws, awsCredentials: moto.Service);
        using var client = app.CreateClient();
        var sensor = $"run-{Guid.NewGuid():N}"[..20];
        var today = DateTime.UtcNow.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        var now = DateTime.UtcNow.AddSeconds(-5);
        foreach (var seq in new[] { 2, 1, 2 })
        {
            var ts = now.AddMilliseconds(seq).ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture);
            using var content = new StringContent($"{{\"ts\":\"{ts}\",\"seq\":{seq},\"v\":{seq}}}", Encoding.UTF8);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"/v1/sensors/{sensor}/events", content)).StatusCode);
        }

        using (var flush = await client.PostAsync("/v1/admin/flush", null))
        {
            Assert.True(flush.IsSuccessStatusCode, await flush.Content.ReadAsStringAsync());
        }

        using var day = await client.GetAsync($"/v1/sensors/{sensor}/days/{today}");
        var lines = (await day.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal([1, 2], lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("seq").GetInt32()));
        Assert.True(day.Headers.Contains("Data-Current-As-Of"));
        using var csvRequest = new HttpRequestMessage(HttpMethod.Get, $"/v1/sensors/{sensor}/days/{today}");
        csvRequest.Headers.Accept.ParseAdd("text/csv");
        using var csv = await client.SendAsync(csvRequest);
        Assert.Equal(3, (await csv.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        var days = await client.GetStringAsync($"/v1/sensors/{sensor}/days?from={today}&to={today}");
        Assert.Equal(2, JsonDocument.Parse(days).RootElement[0].GetProperty("events").GetInt32());
        var sensors = await client.GetStringAsync($"/v1/sensors?prefix={sensor}");
        Assert.Contains(sensor, sensors, StringComparison.Ordinal);

        using var s3 = moto.AdminS3();
        var objects = await s3.ListObjectsV2Async(new Amazon.S3.Model.ListObjectsV2Request { BucketName = moto.Bucket, Prefix = $"sensors/{sensor}/" });
        Assert.Empty(objects.S3Objects ?? []);
    }
}
