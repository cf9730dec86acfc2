using System.Net;
using System.Text;
using IngestService.Tests.Infrastructure;

namespace IngestService.Tests.Ingest;

public sealed class BatcherFaultTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task After_the_batching_loop_faults_every_later_request_gets_503_with_retry_after_and_the_node_is_not_ready()
    {
        var time = new TimerProbe(TimeProvider.System);
        using var app = new IngestAppFactory(clock: time);
        using var client = app.CreateClient();
        using (var ready = await client.GetAsync("/readyz"))
        {
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        }

        time.FailNextTimer();
        using var held = await PostAsync(client, 1).WaitAsync(Bound);
        using var later = await PostAsync(client, 2).WaitAsync(Bound);
        using var notReady = await client.GetAsync("/readyz").WaitAsync(Bound);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, held.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, later.StatusCode);
        Assert.Equal("application/problem+json", later.Content.Headers.ContentType?.MediaType);
        Assert.Contains("another node", await later.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.NotNull(later.Headers.RetryAfter);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.StatusCode);
        Assert.Empty(app.RawLines());
    }

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, int seq) =>
        client.PostAsync(
            "/v1/sensors/s1/events",
            new StringContent($"{{\"ts\":\"2026-11-21T10:00:00Z\",\"seq\":{seq}}}", Encoding.UTF8, "application/json"));
}
