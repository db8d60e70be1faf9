using System.Diagnostics;
using Veritee.TestSupport;

namespace Veritee.Fuzz.Tests;

/// <summary>
/// Replays every saved fuzz input (fuzz/corpus/TARGET and fuzz/crashes/TARGET) through the harness's target: only the
/// target's documented format exceptions may escape, and no input may take longer than <see cref="PerInputBound"/>.
/// </summary>
public class CorpusReplayTests
{
    /// <summary>Generous next to the measured cost (well under 100 ms per input even for end-to-end verification).</summary>
    private static readonly TimeSpan PerInputBound = TimeSpan.FromSeconds(5);

    private static readonly FuzzTargets Targets = new(Vectors.RepositoryRoot);

    public static TheoryData<string> TargetNames()
    {
        var data = new TheoryData<string>();
        foreach (var target in Targets.All)
        {
            data.Add(target.Name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(TargetNames))]
    public async Task Every_saved_input_is_accepted_or_refused_with_a_documented_exception_in_bounded_time(string name)
    {
        var target = Targets.Find(name)!;
        var files = InputsOf(name);
        Assert.NotEmpty(files);
        var failures = new List<string>();
        foreach (var file in files)
        {
            var input = await File.ReadAllBytesAsync(file);
            var clock = Stopwatch.StartNew();
            var run = Task.Run(() => target.Execute(input));
            if (await Task.WhenAny(run, Task.Delay(PerInputBound)) != run)
            {
                failures.Add($"{Relative(file)}: still running after {PerInputBound.TotalSeconds} s (hang)");
                continue;
            }

            try
            {
                await run;
            }
            catch (Exception e)
            {
                failures.Add($"{Relative(file)}: undocumented {e.GetType().FullName}: {e.Message}\n{e.StackTrace}");
            }

            if (clock.Elapsed > PerInputBound)
            {
                failures.Add($"{Relative(file)}: took {clock.Elapsed.TotalSeconds:F1} s");
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count} of {files.Count} inputs of '{name}' failed:\n" + string.Join("\n", failures));
    }

    [Fact]
    public void Every_corpus_folder_belongs_to_a_target()
    {
        foreach (var kind in new[] { "corpus", "crashes" })
        {
            var dir = Path.Combine(Vectors.RepositoryRoot, "fuzz", kind);
            if (!Directory.Exists(dir))
            {
                continue;
            }

            foreach (var sub in Directory.GetDirectories(dir))
            {
                Assert.NotNull(Targets.Find(Path.GetFileName(sub)));
            }
        }
    }

    [Fact]
    public void Every_target_has_seeds()
    {
        foreach (var target in Targets.All)
        {
            Assert.True(Directory.Exists(Path.Combine(Vectors.RepositoryRoot, "fuzz", "corpus", target.Name)), target.Name);
        }
    }

    private static List<string> InputsOf(string name) =>
        new[] { "corpus", "crashes" }
            .Select(kind => Path.Combine(Vectors.RepositoryRoot, "fuzz", kind, name))
            .Where(Directory.Exists)
            .SelectMany(Directory.GetFiles)
            .Order(StringComparer.Ordinal)
            .ToList();

    private static string Relative(string file) => Path.GetRelativePath(Vectors.RepositoryRoot, file);
}
