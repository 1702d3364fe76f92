// The command line is read strictly, through the real executable: a misspelled option, an unknown command,
// an extra argument, a value that does not parse or two options that contradict each other is one line on
// stderr with exit code 1, and nothing is written or overwritten.
namespace Condense.Tests.Cli;

public sealed class StrictCommandLineTests() : CliWorkspace("condense-strict-cli-")
{
    // A previous result the mistyped command would have overwritten.
    private string Existing(string name)
    {
        string path = Path.Combine(Dir, name);
        File.WriteAllText(path, "previous result");
        File.SetLastWriteTimeUtc(path, new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        return path;
    }

    private static void AssertUntouched(string path)
    {
        Assert.Equal("previous result", File.ReadAllText(path));
        Assert.Equal(new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc), File.GetLastWriteTimeUtc(path));
    }

    [Fact]
    public void MisspelledOptionsAreRefusedWithASuggestionAndWriteNothing()
    {
        string pruned = Existing("model.pruned.safetensors");
        CliRunner.AssertOneLineError(CliRunner.Run("prune", Model, "--sparsty", "0.9", "--data", Data),
            "unknown option '--sparsty'; did you mean '--sparsity'?");
        AssertUntouched(pruned);

        string quantized = Existing("model.int8.safetensors");
        CliRunner.AssertOneLineError(CliRunner.Run("quantize", Model, "--bit", "4", "--data", Data), "did you mean '--bits'?");
        AssertUntouched(quantized);

        string trained = Existing("trained.safetensors");
        CliRunner.AssertOneLineError(CliRunner.Run("train", "--epoch", "3", "--data", Data, "-o", trained), "did you mean '--epochs'?");
        AssertUntouched(trained);

        // An option of another command: no near name, so the message points to the command's help.
        string student = Existing("student.safetensors");
        CliRunner.AssertOneLineError(CliRunner.Run("distill", "--teacher", Model, "--student", "mlp:784-30-10", "--augment-shift", "0",
            "--data", Data, "-o", student), "unknown option '--augment-shift' for distill; see condense distill --help");
        AssertUntouched(student);

        // The control: spelled right, the same command runs and replaces the file, so the checks above can fail.
        var ok = CliRunner.Run("prune", Model, "--sparsity", "0.9", "--data", Data);
        Assert.True(ok.ExitCode == 0, ok.Stderr);
        Assert.NotEqual(new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc), File.GetLastWriteTimeUtc(pruned));
    }

    [Fact]
    public void UnknownCommandsAndExtraArguments()
    {
        CliRunner.AssertOneLineError(CliRunner.Run("prun", Model), "unknown command 'prun'; did you mean 'prune'?");
        CliRunner.AssertOneLineError(CliRunner.Run("frobnicate"), "unknown command 'frobnicate'; the commands are demo, train, prune");
        CliRunner.AssertOneLineError(CliRunner.Run("--sparsity", "0.9"), "expected a command before '--sparsity'");
        CliRunner.AssertOneLineError(CliRunner.Run("eval", Model, "extra"), "unexpected argument 'extra': eval takes one MODEL");
        CliRunner.AssertOneLineError(CliRunner.Run("train", "lenet5"), "unexpected argument 'lenet5': train takes options only");
        CliRunner.AssertOneLineError(CliRunner.Run("prune"), "prune needs MODEL");
        CliRunner.AssertOneLineError(CliRunner.Run("prune", Model, "--finetune-epoch", "2"), "did you mean '--finetune-epochs'?");
    }

    [Theory]
    [InlineData("--sparsity abc", "--sparsity expects a number, got 'abc'")]
    [InlineData("--seed -5", "--seed expects a non-negative whole number, got '-5'")]
    [InlineData("--finetune-epochs 2.5", "--finetune-epochs expects a whole number, got '2.5'")]
    [InlineData("--schedule gradual", "--schedule expects oneshot, agp or iterative, got 'gradual'")]
    [InlineData("--norm 2", "--norm expects l1 or l2, got '2'")]
    [InlineData("--sparsity", "--sparsity expects a number, got nothing")]
    [InlineData("--sparsity --global", "--sparsity expects a number, got nothing")]
    [InlineData("--global=yes", "--global is a switch and takes no value, got 'yes'")]
    [InlineData("--sparsity 0.5 --sparsity 0.9", "--sparsity is given more than once")]
    [InlineData("-o a.safetensors --out b.safetensors", "--out is given more than once")]
    public void ValuesThatDoNotParseNameTheOption(string options, string message)
    {
        string pruned = Existing("model.pruned.safetensors");
        CliRunner.AssertOneLineError(CliRunner.Run(["prune", Model, "--data", Data, .. options.Split(' ')]), message);
        AssertUntouched(pruned);
    }

    [Theory]
    [InlineData("prune M --threshold 0.1 --sparsity 0.5", "--threshold cannot be combined with --sparsity")]
    [InlineData("prune M --threshold 0.1 --schedule agp --finetune-epochs 1", "--threshold cannot be combined with --schedule agp")]
    [InlineData("prune M --nm 2:4 --structured", "--nm cannot be combined with --structured")]
    [InlineData("prune M --nm 2:4 --random", "--nm cannot be combined with --random")]
    [InlineData("prune M --random --structured", "--random cannot be combined with --structured")]
    [InlineData("prune M --sparsity 0.5 --end 0.9", "--end cannot be combined with --sparsity")]
    [InlineData("prune M --structured --global", "--structured cannot be combined with --global")]
    [InlineData("prune M --ratio 0.3", "--ratio only applies with --structured")]
    [InlineData("prune M --skip-residual", "--skip-residual only applies with --structured")]
    [InlineData("prune M --start 0.2 --finetune-epochs 1", "--start only applies with --schedule agp")]
    [InlineData("prune M --schedule agp --rounds 2 --finetune-epochs 1", "--rounds only applies with --schedule iterative, not --schedule agp")]
    [InlineData("prune M --lr 0.1", "--lr only applies with --finetune-epochs")]
    [InlineData("prune M --allocation sensitivity", "--allocation only applies with --text")]
    [InlineData("quantize M --mode weightonly --calibration-method entropy", "--calibration-method only applies with --mode static, not --mode weightonly")]
    [InlineData("quantize M --percentile 99.9", "--percentile only applies with --calibration-method percentile")]
    [InlineData("quantize M --block-size 32", "--block-size only applies with --mode weightonly")]
    [InlineData("quantize M --mode weightonly --block-size 32 --per-tensor", "--block-size cannot be combined with --per-tensor")]
    [InlineData("distill --teacher M --student mlp:784-30-10 --student-prune 0.5", "--student cannot be combined with --student-prune")]
    [InlineData("distill --teacher M --student-width 0.5 --student-prune 0.5", "--student-width cannot be combined with --student-prune")]
    [InlineData("distill --teacher M --student mlp:784-30-10 --hint-weight 2", "--hint-weight only applies with --hint")]
    public void ContradictoryOptionsNameBoth(string line, string message)
    {
        string output = Existing("out.safetensors");
        var args = line.Split(' ').Select(a => a == "M" ? Model : a).Concat(["--data", Data, "-o", output]).ToArray();
        CliRunner.AssertOneLineError(CliRunner.Run(args), message);
        AssertUntouched(output);
    }

    [Fact]
    public void EveryCommandPrintsItsHelp()
    {
        // Option descriptions are Spectre markup: an unescaped [ … ] in one breaks that command's help.
        string[] commands = ["demo", "train", "prune", "quantize", "distill", "share", "sensitivity", "eval", "diagnose", "info", "embed", "run", "compose"];
        foreach (var command in commands)
        {
            var r = CliRunner.Run(command, "--help");
            Assert.True(r.ExitCode == 0, $"condense {command} --help: {r.Stderr}");
            Assert.Contains("USAGE", r.Stdout);
        }
    }

    [Fact]
    public void NoArgumentsPrintsTheHelpAndFails()
    {
        var r = CliRunner.Run();
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("USAGE", r.Stdout);
        Assert.Contains("prune <MODEL>", r.Stdout);
        var help = CliRunner.Run("--help");
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("USAGE", help.Stdout);
        // Asking for a command's help shows it, whatever else is on the line.
        var pruneHelp = CliRunner.Run("prune", Model, "--sparsty", "0.9", "--help");
        Assert.Equal(0, pruneHelp.ExitCode);
        Assert.Contains("--sparsity", pruneHelp.Stdout);
    }
}
