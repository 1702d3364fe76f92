// Options every command shares.
using System.ComponentModel;
using Spectre.Console.Cli;

namespace Condense.Cli.Commands;

internal class CommonSettings : CommandSettings
{
    [CommandOption("--json")]
    [Description("Print the result as one JSON object on stdout (progress and tables go to stderr).")]
    public bool Json { get; init; }
}

internal class DataSettings : CommonSettings
{
    [CommandOption("--data <DIR>")]
    [Description("Folder with MNIST-format IDX files (train-images-idx3-ubyte[[.gz]], …). Default: the embedded MNIST subset.")]
    public string? Data { get; init; }
}
