// The zmm vpdpbusd micro-kernels of the channels-last int8 convolution (QConv2dNhwc), emitted once per process with the
// X64Emitter of the int8 GEMM (Int8Gemm/Jit; see there for why machine code: .NET 10 has no AVX-512 VNNI intrinsics).
// The scheme is MLAS's symmetric convolution (convsym.cpp: an indirection list of input pixel pointers, 6 outputs × 64
// channels per kernel); the code is ours. One call computes `rows` (1–6) output pixels × `panels` (1–4) × 16 output
// channels, accumulators zmm8.. (one per pixel and panel), lanes = output channels:
//   for each tap t: the row pointers p_i = pointers[t·rows + i] (an input pixel's channels, NHWC, or a row of z_x where
//   the tap leaves the image); for each quad q of the tap's channels: the panels' weights W[t, q] (16 channels × 4
//   inputs per zmm) are loaded once, the 4 input bytes of each pixel broadcast (vpbroadcastd [p_i + 4q]), and one
//   vpdpbusd per pixel and panel adds 4 multiply-adds per lane: 6 × 4 = 24 vpdpbusd (1,536 multiply-adds) per 4 loads
//   and 6 broadcasts. Then c[i, j] = acc + bias[j] as int32 rows of ldc bytes.
// The quad index runs from −4·quads up to 0 (add sets ZF at 0), so the loop needs no compare; the row pointers are
// advanced by 4·quads once per tap to match. System V AMD64: one argument, the Args block (rdi); rbx, r14 and r15 are
// callee-saved, so they are pushed.
using System.Runtime.InteropServices;
using Condense.Kernels.Int8Gemm.Jit;

namespace Condense.Kernels.Int8Conv;

/// <summary>The emitted channels-last convolution kernels; <see cref="Available"/> is false where they could not be made.</summary>
internal static unsafe class JitConvKernels
{
    /// <summary>Most output pixels per call.</summary>
    public const int MaxRows = 6;

    /// <summary>Most 16-channel panels per call (64 output channels).</summary>
    public const int MaxPanels = 4;

    /// <summary>The arguments of one call (read by the kernel at these offsets).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Args
    {
        /// <summary>taps × rows input pointers, tap-major.</summary>
        public byte** Pointers;
        /// <summary>The packed weights of the channel block: [tap][quad][panel][16 channels][4 inputs].</summary>
        public sbyte* Weights;
        /// <summary>Taps (≥ 1).</summary>
        public nint Taps;
        /// <summary>4 × quads per tap (≥ 4).</summary>
        public nint QuadBytes;
        /// <summary>−<see cref="QuadBytes"/>.</summary>
        public nint NegativeQuadBytes;
        /// <summary>panels × 16 int32 added to every pixel.</summary>
        public int* Bias;
        /// <summary>rows × panels·16 int32 out, rows <see cref="Ldc"/> bytes apart.</summary>
        public int* Output;
        /// <summary>Bytes between output rows.</summary>
        public nint Ldc;
        /// <summary>The requantizing kernels' uint8 out: rows × panels·16 codes, rows <see cref="Ldo"/> bytes apart.</summary>
        public byte* Codes;
        /// <summary>Bytes between rows of <see cref="Codes"/>.</summary>
        public nint Ldo;
        /// <summary>Per panel 5 × 16 int32: multiplier, multiplier of the odd lanes (each qword's high half, moved low), right shift, mask, half.</summary>
        public int* Constants;
        /// <summary>8 int64 of 2^30, then 16 int32 each of qmin − z_y, qmax − z_y and z_y.</summary>
        public int* Shared;
    }

    private static readonly delegate* unmanaged[SuppressGCTransition]<Args*, void>[] s_kernels =
        new delegate* unmanaged[SuppressGCTransition]<Args*, void>[2 * MaxRows * MaxPanels];

    static JitConvKernels()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return;
        try
        {
            var emitter = new X64Emitter();
            var entries = new int[2 * MaxRows * MaxPanels];
            foreach (bool requantize in new[] { false, true })
                for (int rows = 1; rows <= MaxRows; rows++)
                    for (int panels = 1; panels <= MaxPanels; panels++) entries[Index(rows, panels, requantize)] = Emit(emitter, rows, panels, requantize);
            byte* code = ExecutableMemory.Publish(emitter.ToArray());
            if (code == null) return;
            for (int i = 0; i < entries.Length; i++) s_kernels[i] = (delegate* unmanaged[SuppressGCTransition]<Args*, void>)(code + entries[i]);
            Available = true;
        }
        catch (Exception) { }   // whatever failed, QConv2d runs its managed kernels instead
    }

    /// <summary>True when the kernels exist (Linux x86-64, pages made executable); the CPU is not checked here.</summary>
    public static bool Available { get; }

    /// <summary>
    /// Runs the kernel of <paramref name="rows"/> pixels × <paramref name="panels"/> panels on <paramref name="args"/>: int32 sums
    /// to Output, or with <paramref name="requantize"/> uint8 codes to Codes.
    /// </summary>
    public static void Run(int rows, int panels, bool requantize, Args* args) => s_kernels[Index(rows, panels, requantize)](args);

    private static int Index(int rows, int panels, bool requantize) => ((requantize ? MaxRows : 0) + rows - 1) * MaxPanels + panels - 1;

    private const int FirstAccumulator = 8;

    // Row pointer registers (rbx, r14, r15 callee-saved); rdi args, rsi pointers, rdx weights, rcx taps, r9 quad bytes, r8 index.
    private static readonly Gpr[] RowRegisters = [Gpr.Rax, Gpr.R10, Gpr.R11, Gpr.Rbx, Gpr.R14, Gpr.R15];

    // c[i, j] = acc + bias[j] as int32 rows of ldc bytes.
    private static void StoreEpilogue(X64Emitter e, int rows, int panels)
    {
        Gpr args = Gpr.Rdi, bias = Gpr.Rsi, output = Gpr.Rdx, ldc = Gpr.Rcx;
        e.LoadQword(bias, args, 40);
        e.LoadQword(output, args, 48);
        e.LoadQword(ldc, args, 56);
        for (int i = 0; i < rows; i++)
        {
            for (int p = 0; p < panels; p++)
            {
                int acc = FirstAccumulator + i * panels + p;
                e.AddDwordsFromMemory(acc, acc, bias, 64 * p);
                e.StoreZmm(output, 64 * p, acc);
            }
            if (i + 1 < rows) e.Add(output, ldc);
        }
    }

    // codes[i, j] = clamp(z_y + RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(acc + bias[j], M[j]), r[j]), qmin, qmax),
    // the steps of ChannelRequantizer (no left shift) per panel: its constants in zmm0–3, temporaries zmm4–7, k1 = odd lanes.
    private static void RequantizeEpilogue(X64Emitter e, int rows, int panels)
    {
        Gpr args = Gpr.Rdi, bias = Gpr.Rsi, codes = Gpr.Rdx, ldo = Gpr.Rcx, constants = Gpr.R8, shared = Gpr.R9, row = Gpr.Rax;
        const int Multiplier = 0, OddMultiplier = 1, Right = 2, Mask = 3, High = 4, Odd = 5, Threshold = 6, Remainder = 7, OddLanes = 1;
        e.LoadQword(bias, args, 40);
        e.LoadQword(codes, args, 64);
        e.LoadQword(ldo, args, 72);
        e.LoadQword(constants, args, 80);
        e.LoadQword(shared, args, 88);
        e.MoveImmediate(row, 0xAAAA);
        e.MaskFromRegister(OddLanes, row);
        for (int p = 0; p < panels; p++)
        {
            for (int k = 0; k < 4; k++) e.LoadZmm(k, constants, 320 * p + 64 * k);
            e.Move(row, codes);
            for (int i = 0; i < rows; i++)
            {
                int acc = FirstAccumulator + i * panels + p;
                e.AddDwordsFromMemory(acc, acc, bias, 64 * p);
                // floor((x·M + 2^30) / 2^31): even lanes' 64-bit products shifted down, odd lanes' shifted into the high halves.
                e.MultiplyEvenDwords(High, acc, Multiplier);
                e.AddQwordsFromMemory(High, High, shared, 0);
                e.ShiftRightQwords(High, High, 31);
                e.ShiftRightQwords(Odd, acc, 32);
                e.MultiplyEvenDwords(Odd, Odd, OddMultiplier);
                e.AddQwordsFromMemory(Odd, Odd, shared, 0);
                e.ShiftLeftQwords(Odd, Odd, 1);
                e.BlendDwords(High, OddLanes, High, Odd);
                // (h >> r) + 1 where the remainder passes half (+ 1 for negative h): (half + sign − remainder) < 0.
                e.ShiftRightDwords(Threshold, High, 31);
                e.AddDwordsFromMemory(Threshold, Threshold, constants, 320 * p + 256);
                e.AndDwords(Remainder, High, Mask);
                e.SubtractDwords(Threshold, Threshold, Remainder);
                e.ShiftRightDwords(Threshold, Threshold, 31);
                e.ShiftRightArithmeticDwords(High, High, Right);
                e.AddDwords(High, High, Threshold);
                e.MinDwordsFromMemory(High, High, shared, 128);
                e.MaxDwordsFromMemory(High, High, shared, 64);
                e.AddDwordsFromMemory(High, High, shared, 192);
                e.StoreDwordsAsBytes(row, 16 * p, High);
                if (i + 1 < rows) e.Add(row, ldo);
            }
        }
    }

    /// <summary>Appends one kernel; returns its entry offset.</summary>
    internal static int Emit(X64Emitter e, int rows, int panels, bool requantize)
    {
        Gpr args = Gpr.Rdi, pointers = Gpr.Rsi, weights = Gpr.Rdx, taps = Gpr.Rcx, quadBytes = Gpr.R9, index = Gpr.R8;
        const int FirstWeight = 0, FirstInput = 4;
        int entry = e.Position;
        var saved = rows > 3 ? RowRegisters[3..rows] : [];
        foreach (var r in saved) e.Push(r);
        e.LoadQword(pointers, args, 0);
        e.LoadQword(weights, args, 8);
        e.LoadQword(taps, args, 16);
        e.LoadQword(quadBytes, args, 24);
        for (int a = 0; a < rows * panels; a++) e.ZeroZmm(FirstAccumulator + a);

        int tap = e.Position;
        for (int i = 0; i < rows; i++)
        {
            e.LoadQword(RowRegisters[i], pointers, 8 * i);
            e.Add(RowRegisters[i], quadBytes);
        }
        e.Add(pointers, 8 * rows);
        e.LoadQword(index, args, 32);

        int quad = e.Position;
        for (int p = 0; p < panels; p++) e.LoadZmm(FirstWeight + p, weights, 64 * p);
        for (int i = 0; i < rows; i++)
        {
            int x = FirstInput + i % 4;
            e.BroadcastDword(x, RowRegisters[i], index, 0);
            for (int p = 0; p < panels; p++) e.Vpdpbusd(FirstAccumulator + i * panels + p, x, FirstWeight + p);
        }
        e.Add(weights, 64 * panels);
        e.Add(index, 4);
        e.JumpIfNotZero(quad);
        e.Decrement(taps);
        e.JumpIfNotZero(tap);

        if (requantize) RequantizeEpilogue(e, rows, panels);
        else StoreEpilogue(e, rows, panels);
        for (int r = saved.Length - 1; r >= 0; r--) e.Pop(saved[r]);
        e.ZeroUpper();
        e.Return();
        return entry;
    }
}
