using System.Net;
using System.Net.Http.Headers;

namespace IngestService.LoadGen;

/// <summary>Raised when verification cannot be carried out at all (as opposed to finding faults).</summary>
internal sealed class VerifyException(string message) : Exception(message);

/// <summary>
/// Makes the service regroup now (<c>POST /v1/admin/flush</c>), then reads back every sensor-day the run
/// acknowledged events for and counts what is missing, stored twice or out of order.
/// </summary>
internal sealed class Verifier(HttpClient client, Uri baseUrl, string? token)
{
    private readonly HttpClient _client = client;
    private readonly Uri _baseUrl = baseUrl;
    private readonly string? _token = token;

    public async Task<VerifyCounts> VerifyAsync(IReadOnlyList<SensorLog> sensors, CancellationToken cancellationToken)
    {
        using (var flush = Request(HttpMethod.Post, "v1/admin/flush"))
        using (var response = await _client.SendAsync(flush, cancellationToken))
        {
            if (!response.IsSuccessStatusCode)
            {
                var text = await response.Content.ReadAsStringAsync(cancellationToken);
                throw new VerifyException($"POST /v1/admin/flush answered {(int)response.StatusCode}, so the read-back would not see the run's events: {Shorten(text)}");
            }
        }

        var days = sensors.SelectMany(s => s.Days().Select(d => (Sensor: s.Id, d.Day, d.Events))).ToList();
        long missing = 0;
        long duplicates = 0;
        long outOfOrder = 0;
        await Parallel.ForEachAsync(days, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken }, async (day, ct) =>
        {
            var counts = await VerifyDayAsync(day.Sensor, day.Day, day.Events, ct);
            Interlocked.Add(ref missing, counts.Missing);
            Interlocked.Add(ref duplicates, counts.Duplicates);
            Interlocked.Add(ref outOfOrder, counts.OutOfOrder);
        });
        return new VerifyCounts(missing, duplicates, outOfOrder);
    }

    private async Task<VerifyCounts> VerifyDayAsync(string sensorId, DateOnly day, Dictionary<long, long> expected, CancellationToken cancellationToken)
    {
        var path = $"v1/sensors/{sensorId}/days/{day:yyyy-MM-dd}";
        using var request = Request(HttpMethod.Get, path);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/x-ndjson"));
        using var response = await _client.SendAsync(request, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return new VerifyCounts(expected.Count, 0, 0);
        }

        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new VerifyException($"GET /{path} answered {(int)response.StatusCode}: {Shorten(System.Text.Encoding.UTF8.GetString(body))}");
        }

        try
        {
            return DayCheck.Check(body, sensorId, expected);
        }
        catch (InvalidDataException ex)
        {
            throw new VerifyException($"GET /{path} returned something that is not the stored-event NDJSON: {ex.Message}");
        }
    }

    private HttpRequestMessage Request(HttpMethod method, string path)
    {
        var request = new HttpRequestMessage(method, new Uri(_baseUrl, path));
        if (_token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
        }

        return request;
    }

    private static string Shorten(string s) => s.Length <= 300 ? s : s[..300] + "…";
}
