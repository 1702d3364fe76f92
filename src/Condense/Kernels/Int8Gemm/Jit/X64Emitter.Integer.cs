// The int32 lane arithmetic of the emitted requantization (JitConvKernels' epilogue: gemmlowp's fixed-point multiply and
// rounding shift, Int8Gemm/Requantize.cs), encoded as the rest of X64Emitter (Intel SDM vol. 2, §2.7): EVEX.512 with W1
// for the quadword forms, the shift-by-immediate forms with their /digit in ModRM.reg and the destination in vvvv, an
// opmask in EVEX.aaa for the blend, disp8·16 for the 16-byte store of vpmovdb. The unit tests compare each with GNU as.
namespace Condense.Kernels.Int8Gemm.Jit;

internal sealed partial class X64Emitter
{
    /// <summary>vpmuldq dst, a, b: the signed 64-bit products of the even int32 lanes (EVEX.512.66.0F38.W1 28 /r).</summary>
    public void MultiplyEvenDwords(int dst, int a, int b) => EvexRegisters(Prefix66, Map0F38, 0x28, dst, a, b, w: 1);

    /// <summary>vpaddq dst, src, [base + disp] (EVEX.512.66.0F.W1 D4 /r).</summary>
    public void AddQwordsFromMemory(int dst, int src, Gpr @base, int disp) => EvexMemory(Prefix66, Map0F, 0xD4, dst, src, @base, disp, 64, w: 1);

    /// <summary>vpsrlq dst, src, imm (EVEX.512.66.0F.W1 73 /2 ib).</summary>
    public void ShiftRightQwords(int dst, int src, byte imm) { EvexRegisters(Prefix66, Map0F, 0x73, 2, dst, src, w: 1); Emit(imm); }

    /// <summary>vpsllq dst, src, imm (EVEX.512.66.0F.W1 73 /6 ib).</summary>
    public void ShiftLeftQwords(int dst, int src, byte imm) { EvexRegisters(Prefix66, Map0F, 0x73, 6, dst, src, w: 1); Emit(imm); }

    /// <summary>vpsrld dst, src, imm (EVEX.512.66.0F.W0 72 /2 ib).</summary>
    public void ShiftRightDwords(int dst, int src, byte imm) { EvexRegisters(Prefix66, Map0F, 0x72, 2, dst, src); Emit(imm); }

    /// <summary>vpblendmd dst{k}, a, b: lanes of b where opmask k is set, else of a (EVEX.512.66.0F38.W0 64 /r).</summary>
    public void BlendDwords(int dst, int mask, int a, int b) => EvexRegisters(Prefix66, Map0F38, 0x64, dst, a, b, mask: mask);

    /// <summary>vpandd dst, a, b (EVEX.512.66.0F.W0 DB /r).</summary>
    public void AndDwords(int dst, int a, int b) => EvexRegisters(Prefix66, Map0F, 0xDB, dst, a, b);

    /// <summary>vpsubd dst, a, b (EVEX.512.66.0F.W0 FA /r).</summary>
    public void SubtractDwords(int dst, int a, int b) => EvexRegisters(Prefix66, Map0F, 0xFA, dst, a, b);

    /// <summary>vpaddd dst, a, b (EVEX.512.66.0F.W0 FE /r).</summary>
    public void AddDwords(int dst, int a, int b) => EvexRegisters(Prefix66, Map0F, 0xFE, dst, a, b);

    /// <summary>vpsravd dst, a, counts: per-lane arithmetic right shifts (EVEX.512.66.0F38.W0 46 /r).</summary>
    public void ShiftRightArithmeticDwords(int dst, int a, int counts) => EvexRegisters(Prefix66, Map0F38, 0x46, dst, a, counts);

    /// <summary>vpminsd dst, src, [base + disp] (EVEX.512.66.0F38.W0 39 /r).</summary>
    public void MinDwordsFromMemory(int dst, int src, Gpr @base, int disp) => EvexMemory(Prefix66, Map0F38, 0x39, dst, src, @base, disp, 64);

    /// <summary>vpmaxsd dst, src, [base + disp] (EVEX.512.66.0F38.W0 3D /r).</summary>
    public void MaxDwordsFromMemory(int dst, int src, Gpr @base, int disp) => EvexMemory(Prefix66, Map0F38, 0x3D, dst, src, @base, disp, 64);

    /// <summary>vpmovdb [base + disp], zmm: the low byte of each int32 lane, 16 bytes (EVEX.512.F3.0F38.W0 31 /r, disp8·16).</summary>
    public void StoreDwordsAsBytes(Gpr @base, int disp, int zmm) => EvexMemory(PrefixF3, Map0F38, 0x31, zmm, 0, @base, disp, 16);

    /// <summary>mov r32, imm32 (B8+r id; rax–rdi).</summary>
    public void MoveImmediate(Gpr reg, int imm)
    {
        Emit((byte)(0xB8 | (int)reg));
        EmitInt32(imm);
    }

    /// <summary>kmovw k, r32 (VEX.L0.0F.W0 92 /r; rax–rdi).</summary>
    public void MaskFromRegister(int mask, Gpr reg)
    {
        Emit(0xC5); Emit(0xF8); Emit(0x92);
        Emit((byte)(0xC0 | mask << 3 | (int)reg));
    }
}
