using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text;

// Compression ratio and CPU of each .NET gzip level on envelopes whose readings are random numbers, as real
// sensors send (the load generator pads with 'x', which compresses far better than anything real). Windows of
// 500 lines are compressed one gzip member each, as Firehose records are.
//   dotnet run -c Release --project bench/GzipLevels
const int Lines = 5000;
const int WindowLines = 500;
const int Rounds = 20;
var random = new Random(1);
var day = new DateTime(2026, 11, 21, 10, 0, 0, DateTimeKind.Utc);
foreach (var size in new[] { 200, 1000 })
{
    var text = new StringBuilder();
    for (var i = 0; i < Lines; i++)
    {
        var ts = day.AddMilliseconds(random.Next(100_000)).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        var seq = random.Next(1_000_000);
        var body = new StringBuilder().Append(CultureInfo.InvariantCulture, $"{{\"ts\":\"{ts}\",\"seq\":{seq},\"temperature\":{Math.Round((random.NextDouble() * 50) - 10, 2)},\"humidity\":{Math.Round(random.NextDouble() * 100, 1)},\"pressure\":{Math.Round(950 + (random.NextDouble() * 100), 1)},\"battery\":{Math.Round(3 + (random.NextDouble() * 1.2), 3)},\"ok\":true");
        for (var k = 0; body.Length < size - 20; k++)
        {
            body.Append(CultureInfo.InvariantCulture, $",\"r{k}\":{Math.Round(random.NextDouble() * 1000, 3)}");
        }

        text.Append(CultureInfo.InvariantCulture, $"{{\"sensorId\":\"sensor-{random.Next(3000):0000}\",\"seq\":{seq},\"ts\":\"{ts}\",\"receivedAt\":\"{ts}\",\"event\":{body}}}}}\n");
    }

    var data = Encoding.UTF8.GetBytes(text.ToString());
    var window = data.Length / Lines * WindowLines;
    foreach (var level in new[] { CompressionLevel.Fastest, CompressionLevel.Optimal, CompressionLevel.SmallestSize })
    {
        long compressed = 0;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        for (var r = 0; r < Rounds; r++)
        {
            compressed = 0;
            for (var offset = 0; offset < data.Length; offset += window)
            {
                using var output = new MemoryStream();
                using (var gzip = new GZipStream(output, level, leaveOpen: true))
                {
                    gzip.Write(data, offset, Math.Min(window, data.Length - offset));
                }

                compressed += output.Length;
            }
        }

        var perEvent = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds / Rounds / Lines;
        var billedGb = 1e6 * compressed / Lines / 1e9;
        Console.WriteLine(FormattableString.Invariant(
            $"| {size} B | {level} | {data.Length / Lines:N0} | {(double)data.Length / compressed:F2} | {billedGb:F3} | {perEvent:F1} |"));
    }
}
