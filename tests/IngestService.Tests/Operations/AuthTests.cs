using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text;
using IngestService.Auth;
using IngestService.Tests.Infrastructure;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace IngestService.Tests.Operations;

public sealed class AuthTests : IDisposable
{
    private static readonly string Key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
    private static readonly string NextKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
    private readonly IngestAppFactory _app = new(new() { ["Auth:Mode"] = "Jwt", ["Auth:SigningKey"] = $"{Key},{NextKey}" });

    public void Dispose() => _app.Dispose();

    [Fact]
    public void Without_auth_no_authentication_services_are_registered_so_no_request_pays_for_its_middleware()
    {
        // WebApplication inserts the authentication and authorization middleware itself whenever their services
        // are registered; with Auth:Mode=None that cost every event a DI scope (issue 14's profile).
        using var open = new IngestAppFactory();

        Assert.Null(open.Services.GetService<IAuthenticationSchemeProvider>());
        Assert.Null(open.Services.GetService<IAuthorizationHandlerProvider>());
        Assert.NotNull(_app.Services.GetService<IAuthenticationSchemeProvider>());
    }

    [Fact]
    public async Task Without_a_token_a_sensor_gets_401_problem()
    {
        using var client = _app.CreateClient();

        using var response = await client.PostAsync("/v1/sensors/s1/events", Event());

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("bearer token", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_token_signed_with_an_unknown_key_gets_401()
    {
        using var client = Client(Mint(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)), "--sensor", "s1", "--scope", "ingest"));

        using var response = await client.PostAsync("/v1/sensors/s1/events", Event());

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task A_sensor_token_cannot_write_another_sensor()
    {
        using var client = Client(Mint(Key, "--sensor", "s2", "--scope", "ingest"));

        using var response = await client.PostAsync("/v1/sensors/s1/events", Event());

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("s2", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
        Assert.Empty(_app.RawLines());
    }

    [Fact]
    public async Task A_token_without_the_ingest_scope_cannot_write()
    {
        using var client = Client(Mint(Key, "--sensor", "s1", "--scope", "read"));

        using var response = await client.PostAsync("/v1/sensors/s1/events", Event());

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task A_token_minted_by_the_token_command_with_either_configured_key_writes_its_own_sensor(int keyIndex)
    {
        using var client = Client(Mint(keyIndex == 0 ? Key : NextKey, "--sensor", "s1", "--scope", "ingest", "--days", "1"));

        using var response = await client.PostAsync("/v1/sensors/s1/events", Event());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(_app.RawLines());
    }

    [Fact]
    public async Task Reads_need_the_read_scope()
    {
        using var writer = Client(Mint(Key, "--sensor", "s1", "--scope", "ingest"));
        using var reader = Client(Mint(Key, "--scope", "read"));
        Assert.Equal(HttpStatusCode.OK, (await writer.PostAsync("/v1/sensors/s1/events", Event())).StatusCode);

        Assert.Equal(HttpStatusCode.Forbidden, (await writer.GetAsync("/v1/sensors/s1/days/2026-11-21")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _app.CreateClient().GetAsync("/v1/sensors/s1/days/2026-11-21")).StatusCode);
        // Not yet regrouped, so not found: but past the door.
        Assert.Equal(HttpStatusCode.NotFound, (await reader.GetAsync("/v1/sensors/s1/days/2026-11-21")).StatusCode);
    }

    [Fact]
    public async Task A_regroup_pass_on_demand_needs_the_admin_scope()
    {
        using var reader = Client(Mint(Key, "--scope", "read"));
        using var admin = Client(Mint(Key, "--scope", "admin"));

        Assert.Equal(HttpStatusCode.Forbidden, (await reader.PostAsync("/v1/admin/flush", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync("/v1/admin/flush", null)).StatusCode);
    }

    [Fact]
    public async Task Health_and_metrics_need_no_token()
    {
        using var client = _app.CreateClient();

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/metrics")).StatusCode);
    }

    [Fact]
    public void The_token_command_refuses_without_a_signing_key()
    {
        var error = new StringWriter();

        var exit = TokenCommand.Run(["token", "--sensor", "s1"], new ConfigurationBuilder().Build(), TextWriter.Null, error);

        Assert.Equal(2, exit);
        Assert.Contains("Auth:SigningKey", error.ToString());
    }

    [Fact]
    public void The_token_command_carries_sub_and_scope()
    {
        var token = Mint(Key, "--sensor", "s7", "--scope", "ingest,read");

        var payload = JsonDocument.Parse(Base64UrlDecode(token.Split('.')[1])).RootElement;
        Assert.Equal("s7", payload.GetProperty("sub").GetString());
        Assert.Equal("ingest read", payload.GetProperty("scope").GetString());
    }

    private HttpClient Client(string token)
    {
        var client = _app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    private static string Mint(string key, params string[] args)
    {
        var output = new StringWriter();
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Auth:SigningKey"] = key }).Build();
        Assert.Equal(0, TokenCommand.Run(["token", .. args], config, output, TextWriter.Null));
        return output.ToString().Trim();
    }

    private static byte[] Base64UrlDecode(string s) =>
        Convert.FromBase64String(s.Replace('-', '+').Replace('_', '/') + new string('=', (4 - (s.Length % 4)) % 4));

    private static ByteArrayContent Event()
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes("{\"ts\":\"2026-11-21T10:00:00Z\",\"seq\":1}"));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }
}
