using System.Net.Http.Headers;
using System.Text;
using IngestService.Tests.Infrastructure;

namespace IngestService.Tests.Operations;

/// <summary>
/// The request log on a real process with the service's own loggers at every level. ASP.NET Core's stay at the
/// shipped Warning, and its hosting log is off: at Information it would write each URL, query string included.
/// </summary>
public sealed class RequestLogTests
{
    [Fact]
    public async Task Requests_are_logged_with_method_path_and_status_but_never_a_token_a_query_or_an_event_body()
    {
        await using var node = await ServiceNode.StartAsync(new()
        {
            ["Serilog__MinimumLevel__Default"] = "Verbose",
        });
        using var accepted = Post("/v1/sensors/log-s1/events?token=query-secret-3", "{\"ts\":\"2026-11-21T10:00:00Z\",\"seq\":1,\"password\":\"body-secret-1\"}");
        using var rejected = Post("/v1/sensors/log-s1/events", "{\"seq\":2,\"password\":\"body-secret-2\"}");

        Assert.True((await node.Client.SendAsync(accepted)).IsSuccessStatusCode);
        Assert.False((await node.Client.SendAsync(rejected)).IsSuccessStatusCode);
        await node.WaitUntilAsync("the 400 is logged", () => Task.FromResult(node.Output.Contains("\"StatusCode\":400", StringComparison.Ordinal)));

        var output = node.Output;
        Assert.Contains("\"RequestPath\":\"/v1/sensors/log-s1/events\"", output);
        Assert.Contains("\"StatusCode\":200", output);
        Assert.Contains("\"RequestId\":\"", output);
        foreach (var secret in new[] { "bearer-secret-0", "body-secret-1", "body-secret-2", "query-secret-3" })
        {
            Assert.DoesNotContain(secret, output);
        }
    }

    [Fact]
    public async Task The_hosting_log_and_kestrels_stay_off_when_configured_to_log_everything()
    {
        // Enabled at any level, the hosting log gives every request an Activity and a log scope, and at Information
        // writes each URL; Kestrel's runs every connection in a log scope, whose ConnectionId every line inside carries.
        await using var node = await ServiceNode.StartAsync(new()
        {
            ["Serilog__MinimumLevel__Default"] = "Verbose",
            ["Serilog__MinimumLevel__Override__Microsoft.AspNetCore"] = "Verbose",
            ["Serilog__MinimumLevel__Override__Microsoft.AspNetCore.Hosting.Diagnostics"] = "Verbose",
            ["Serilog__MinimumLevel__Override__Microsoft.AspNetCore.Server.Kestrel"] = "Verbose",
        });
        using var rejected = Post("/v1/sensors/log-s2/events?token=query-secret-4", "{\"seq\":2}");

        Assert.False((await node.Client.SendAsync(rejected)).IsSuccessStatusCode);
        await node.WaitUntilAsync("the 400 is logged", () => Task.FromResult(node.Output.Contains("\"StatusCode\":400", StringComparison.Ordinal)));

        Assert.DoesNotContain("Microsoft.AspNetCore.Hosting.Diagnostics", node.Output);
        Assert.DoesNotContain("\"ConnectionId\"", node.Output);
        Assert.DoesNotContain("query-secret-4", node.Output);
    }

    private static HttpRequestMessage Post(string path, string body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "bearer-secret-0");
        return request;
    }
}
