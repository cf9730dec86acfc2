using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using IngestService.Tests.Infrastructure;

namespace IngestService.Tests.Ingest;

/// <summary>
/// Requests a careless or hostile client sends, kept as data in <c>BadInput/cases.json</c>: each gets its 4xx
/// as problem+json, nothing of it is stored, and the node stays ready.
/// </summary>
public sealed class BadInputCorpusTests(BadInputCorpusTests.Node node) : IClassFixture<BadInputCorpusTests.Node>
{
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var c in Load())
        {
            data.Add(c.GetProperty("name").GetString()!);
        }

        return data;
    }

    [Fact]
    public void The_corpus_holds_at_least_a_hundred_requests() => Assert.True(Load().Count >= 100);

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_bad_request_gets_its_4xx_problem_and_stores_nothing(string name)
    {
        var c = Load().Single(x => x.GetProperty("name").GetString() == name);
        var body = c.TryGetProperty("bodyBase64", out var raw) ? Convert.FromBase64String(raw.GetString()!) : Encoding.UTF8.GetBytes(c.GetProperty("body").GetString()!);
        using var content = new ByteArrayContent(body);
        var type = c.GetProperty("contentType").GetString()!;
        if (type.Length > 0)
        {
            content.Headers.TryAddWithoutValidation("Content-Type", type);
        }

        using var response = await node.Client.PostAsync($"/v1/sensors/{c.GetProperty("sensorId").GetString()}/events", content);

        var expected = c.GetProperty("expect").GetInt32();
        Assert.True((int)response.StatusCode == expected, $"{name}: expected {expected}, got {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(expected, problem.GetProperty("status").GetInt32());
        Assert.Empty(node.App.RawLines());
        Assert.Equal(HttpStatusCode.OK, (await node.Client.GetAsync("/readyz")).StatusCode);
    }

    [Theory]
    [InlineData("POST", "/v1/sensor/s1/events", 404)] // a typo in the path
    [InlineData("POST", "/v1/sensors/s1/s2/events", 404)] // a sensor id with a slash in it
    [InlineData("PUT", "/v1/sensors/s1/events", 405)] // the ingest path, a method it does not take
    [InlineData("DELETE", "/v1/sensors/s1/events", 405)]
    public async Task A_request_no_endpoint_takes_gets_its_problem_too(string method, string path, int expected)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = new StringContent("{\"ts\":\"2026-11-21T10:00:00Z\"}", Encoding.UTF8, "application/json") };

        using var response = await node.Client.SendAsync(request);

        Assert.Equal(expected, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(expected, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetInt32());
        Assert.Empty(node.App.RawLines());
    }

    private static List<JsonElement> Load()
    {
        using var file = File.OpenRead(Path.Combine(AppContext.BaseDirectory, "BadInput", "cases.json"));
        return [.. JsonDocument.Parse(file).RootElement.GetProperty("cases").EnumerateArray().Select(e => e.Clone())];
    }

    /// <summary>One node for the whole corpus: a bad request must not hurt the next one either.</summary>
    public sealed class Node : IDisposable
    {
        public Node()
        {
            Client = App.CreateClient();
        }

        public IngestAppFactory App { get; } = new();

        public HttpClient Client { get; }

        public void Dispose()
        {
            Client.Dispose();
            App.Dispose();
        }
    }
}
