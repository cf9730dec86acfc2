using System.Net;
using System.Security.Cryptography;
using IngestService.Tests.Infrastructure;

namespace IngestService.Tests.Query;

public sealed class ReadAuthTests : IDisposable
{
    private readonly IngestAppFactory _app = new(new() { ["Auth:Mode"] = "Jwt", ["Auth:SigningKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)) });

    [Theory]
    [InlineData("text/csv")]
    [InlineData("application/x-ndjson")]
    [InlineData("application/vnd.apache.parquet")]
    public async Task A_read_without_a_token_is_a_401_problem_whatever_it_accepts(string accept)
    {
        using var client = _app.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/sensors/s1/days/2026-11-21");
        request.Headers.Accept.ParseAdd(accept);

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("Authorization: Bearer", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    public void Dispose() => _app.Dispose();
}
