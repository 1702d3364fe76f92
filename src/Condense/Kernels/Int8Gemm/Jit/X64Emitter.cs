// A minimal x86-64 assembler: exactly the instructions of the JIT int8 micro-kernel (JitQuadKernels.cs), appended
// as bytes. Why emit machine code at all: .NET 10 exposes vpdpbusd only as AvxVnni (VEX, ymm), so a CPU with
// AVX-512 VNNI but without the AVX-VNNI CPUID bit (Ice Lake server, Zen 4) cannot reach it from C#, and
// its zmm form does twice the multiply-adds of vpmaddwd per instruction (oneDNN emits its kernels the same way,
// with Xbyak). Encodings follow the Intel SDM, vol. 2, §2.1 (ModRM/SIB, REX) and §2.7 (EVEX: the 62 prefix
// with P0 = R̄X̄B̄R̄′00mm, P1 = W v̄v̄v̄v̄ 1 pp, P2 = z L′L b V̄′ aaa, and disp8·N compressed displacements,
// Table 2-34: N = 64 for a full zmm, 4 for a dword broadcast); the unit tests compare each one with GNU as.
namespace Condense.Kernels.Int8Gemm.Jit;

/// <summary>x86-64 general-purpose registers, numbered as in their encodings.</summary>
internal enum Gpr
{
    Rax, Rcx, Rdx, Rbx, Rsp, Rbp, Rsi, Rdi, R8, R9, R10, R11, R12, R13, R14, R15,
}

/// <summary>Appends encoded instructions to a byte buffer; zmm registers are numbers 0–31.</summary>
internal sealed class X64Emitter
{
    private const int Prefix66 = 1, PrefixF3 = 2;   // EVEX.pp
    private const int Map0F = 1, Map0F38 = 2;        // EVEX.mm

    private readonly List<byte> _code = [];

    /// <summary>The bytes emitted so far.</summary>
    public byte[] ToArray() => [.. _code];

    /// <summary>Offset of the next instruction (a jump target).</summary>
    public int Position => _code.Count;

    /// <summary>vpxord zmm, zmm, zmm: sets <paramref name="zmm"/> to zero.</summary>
    public void ZeroZmm(int zmm) => EvexRegisters(Prefix66, Map0F, 0xEF, zmm, zmm, zmm);

    /// <summary>vpdpbusd acc, u8, s8: acc[l] += Σ_{b&lt;4} u8[4l+b]·s8[4l+b] over 16 int32 lanes (EVEX.512.66.0F38.W0 50 /r).</summary>
    public void Vpdpbusd(int acc, int u8, int s8) => EvexRegisters(Prefix66, Map0F38, 0x50, acc, u8, s8);

    /// <summary>vpbroadcastd zmm, dword [base + disp] (EVEX.512.66.0F38.W0 58 /r, disp8·4).</summary>
    public void BroadcastDword(int zmm, Gpr @base, int disp) => EvexMemory(Prefix66, Map0F38, 0x58, zmm, 0, @base, disp, 4);

    /// <summary>vpbroadcastd zmm, dword [base + index + disp] (SIB with scale 1; index is not rsp).</summary>
    public void BroadcastDword(int zmm, Gpr @base, Gpr index, int disp)
    {
        Evex(Prefix66, Map0F38, zmm, 0, rmHigh: (int)@base >> 3 & 1, xHigh: (int)index >> 3 & 1);
        Emit(0x58);
        int b = (int)@base & 7;
        bool short8 = disp % 4 == 0 && disp / 4 is >= sbyte.MinValue and <= sbyte.MaxValue;
        int mod = disp == 0 && b != 5 ? 0 : short8 ? 1 : 2;    // rbp/r13 base with mod 00 would mean no base
        Emit((byte)(mod << 6 | (zmm & 7) << 3 | 4));
        Emit((byte)(((int)index & 7) << 3 | b));
        if (mod == 1) Emit((byte)(disp / 4));
        else if (mod == 2) EmitInt32(disp);
    }

    /// <summary>vmovdqu32 zmm, [base + disp] (EVEX.512.F3.0F.W0 6F /r, disp8·64).</summary>
    public void LoadZmm(int zmm, Gpr @base, int disp) => EvexMemory(PrefixF3, Map0F, 0x6F, zmm, 0, @base, disp, 64);

    /// <summary>vmovdqu32 [base + disp], zmm (EVEX.512.F3.0F.W0 7F /r, disp8·64).</summary>
    public void StoreZmm(Gpr @base, int disp, int zmm) => EvexMemory(PrefixF3, Map0F, 0x7F, zmm, 0, @base, disp, 64);

    /// <summary>vpaddd dst, src, [base + disp] (EVEX.512.66.0F.W0 FE /r, disp8·64).</summary>
    public void AddDwordsFromMemory(int dst, int src, Gpr @base, int disp) => EvexMemory(Prefix66, Map0F, 0xFE, dst, src, @base, disp, 64);

    /// <summary>mov dst, qword [base + disp] (REX.W 8B /r).</summary>
    public void LoadQword(Gpr dst, Gpr @base, int disp)
    {
        Rex((int)dst, (int)@base);
        Emit(0x8B);
        ModRmMemory((int)dst, @base, disp, 1);
    }

    /// <summary>mov dst, src (REX.W 89 /r).</summary>
    public void Move(Gpr dst, Gpr src) => RegisterOp(0x89, src, dst);

    /// <summary>add dst, src (REX.W 01 /r).</summary>
    public void Add(Gpr dst, Gpr src) => RegisterOp(0x01, src, dst);

    /// <summary>add reg, imm (REX.W 83 /0 ib, or 81 /0 id when it does not fit a signed byte).</summary>
    public void Add(Gpr reg, int imm)
    {
        Rex(0, (int)reg);
        bool small = imm is >= sbyte.MinValue and <= sbyte.MaxValue;
        Emit(small ? (byte)0x83 : (byte)0x81);
        Emit((byte)(0xC0 | ((int)reg & 7)));
        if (small) Emit((byte)imm);
        else EmitInt32(imm);
    }

    /// <summary>push reg (50+r, REX.B for r8–r15).</summary>
    public void Push(Gpr reg)
    {
        if ((int)reg >= 8) Emit(0x41);
        Emit((byte)(0x50 | ((int)reg & 7)));
    }

    /// <summary>pop reg (58+r, REX.B for r8–r15).</summary>
    public void Pop(Gpr reg)
    {
        if ((int)reg >= 8) Emit(0x41);
        Emit((byte)(0x58 | ((int)reg & 7)));
    }

    /// <summary>dec reg (REX.W FF /1).</summary>
    public void Decrement(Gpr reg)
    {
        Rex(0, (int)reg);
        Emit(0xFF);
        Emit((byte)(0xC8 | ((int)reg & 7)));
    }

    /// <summary>jnz to an earlier <paramref name="target"/> (75 rel8, or 0F 85 rel32).</summary>
    public void JumpIfNotZero(int target)
    {
        int rel8 = target - (Position + 2);
        if (rel8 >= sbyte.MinValue) { Emit(0x75); Emit((byte)rel8); return; }
        Emit(0x0F); Emit(0x85);
        EmitInt32(target - (Position + 4));
    }

    /// <summary>vzeroupper (VEX.128.0F 77): no stale upper halves left for SSE code.</summary>
    public void ZeroUpper() { Emit(0xC5); Emit(0xF8); Emit(0x77); }

    /// <summary>ret.</summary>
    public void Return() => Emit(0xC3);

    private void RegisterOp(byte opcode, Gpr reg, Gpr rm)
    {
        Rex((int)reg, (int)rm);
        Emit(opcode);
        Emit((byte)(0xC0 | ((int)reg & 7) << 3 | ((int)rm & 7)));
    }

    /// <summary>REX.W with R and B from the register numbers of the ModRM reg and rm (or base) fields.</summary>
    private void Rex(int reg, int rm) => Emit((byte)(0x48 | (reg >> 3 & 1) << 2 | (rm >> 3 & 1)));

    /// <summary>An EVEX.512.W0 instruction with three zmm operands: reg, vvvv, rm.</summary>
    private void EvexRegisters(int pp, int map, byte opcode, int reg, int vvvv, int rm)
    {
        Evex(pp, map, reg, vvvv, rmHigh: rm >> 3 & 1, xHigh: rm >> 4 & 1);
        Emit(opcode);
        Emit((byte)(0xC0 | (reg & 7) << 3 | (rm & 7)));
    }

    /// <summary>An EVEX.512.W0 instruction with a [base + disp] memory operand, disp8 scaled by <paramref name="n"/>.</summary>
    private void EvexMemory(int pp, int map, byte opcode, int reg, int vvvv, Gpr @base, int disp, int n)
    {
        Evex(pp, map, reg, vvvv, rmHigh: (int)@base >> 3 & 1, xHigh: 0);
        Emit(opcode);
        ModRmMemory(reg, @base, disp, n);
    }

    private void Evex(int pp, int map, int reg, int vvvv, int rmHigh, int xHigh)
    {
        Emit(0x62);
        // P0: inverted R, X, B, R′ then the opcode map.
        Emit((byte)((~(reg >> 3) & 1) << 7 | (~xHigh & 1) << 6 | (~rmHigh & 1) << 5 | (~(reg >> 4) & 1) << 4 | map));
        // P1: W0, inverted vvvv, the fixed 1, pp.
        Emit((byte)((~vvvv & 15) << 3 | 4 | pp));
        // P2: z0, L′L = 10 (512 bits), b0, inverted V′, no mask.
        Emit((byte)(0x40 | (~(vvvv >> 4) & 1) << 3));
    }

    /// <summary>ModRM (+ SIB for rsp/r12) and the shortest displacement; disp8 counts units of <paramref name="n"/> bytes.</summary>
    private void ModRmMemory(int reg, Gpr @base, int disp, int n)
    {
        int b = (int)@base & 7;
        bool short8 = disp % n == 0 && disp / n is >= sbyte.MinValue and <= sbyte.MaxValue;
        int mod = disp == 0 && b != 5 ? 0 : short8 ? 1 : 2;    // rbp/r13 with mod 00 would mean rip-relative
        Emit((byte)(mod << 6 | (reg & 7) << 3 | b));
        if (b == 4) Emit(0x24);                                  // SIB: no index, base rsp/r12
        if (mod == 1) Emit((byte)(disp / n));
        else if (mod == 2) EmitInt32(disp);
    }

    private void Emit(byte value) => _code.Add(value);

    private void EmitInt32(int value)
    {
        for (int i = 0; i < 4; i++) Emit((byte)(value >> 8 * i));
    }
}
