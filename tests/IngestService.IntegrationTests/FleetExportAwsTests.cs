using Amazon.S3.Model;
using IngestService.Tests.Export;
using IngestService.Tests.Infrastructure;

namespace IngestService.IntegrationTests;

/// <summary>
/// The fleet export on the Aws backend: events through Firehose into moto's S3, flushed, and the day's Parquet parts
/// downloaded from the bucket; the analyst guide's DuckDB queries then read them as on <c>Local</c>.
/// </summary>
[Collection(OpenMotoCollection.Name)]
public sealed class FleetExportAwsTests(OpenMotoFixture moto)
{
    [Fact]
    public async Task The_guides_DuckDB_fleet_queries_read_the_export_the_service_wrote_to_S3()
    {
        await using var app = new IngestAppFactory(moto.Settings(moto.Endpoint), backend: TestBackend.Aws, awsCredentials: moto.Service);
        using var client = app.CreateClient();
        var acknowledged = await FleetGuide.PostAndFlushAsync(client);

        var folder = Path.Combine(Path.GetTempPath(), $"fleet-export-{Guid.NewGuid():N}");
        try
        {
            using var s3 = moto.AdminS3();
            var keys = new List<string>();
            foreach (var day in new[] { "2026-11-19", "2026-11-20" })
            {
                var listed = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = moto.Bucket, Prefix = $"analytics/day={day}/" });
                keys.AddRange((listed.S3Objects ?? []).Select(o => o.Key));
            }

            Assert.Equal(2, keys.Count);
            foreach (var key in keys)
            {
                Assert.Matches(@"^analytics/day=2026-11-(19|20)/part-0-[0-9a-f]{12}\.parquet$", key);
                using var stored = await s3.GetObjectAsync(moto.Bucket, key);
                var path = Path.Combine(folder, key);
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                await using var file = File.Create(path);
                await stored.ResponseStream.CopyToAsync(file);
            }

            await FleetGuide.AssertGuideAnswersAsync(folder, acknowledged);
        }
        finally
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }
}
