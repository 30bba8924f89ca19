"""The strided / dilated conv operator norm against a dense matrix of the same convolution."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from explainers.spectral import conv_norm_upper_bound, strided_conv_operator_norm


def dense_operator_norm(kernel: torch.Tensor, n: int, stride: int, dilation: int) -> float:
    """Apply the circular convolution to every basis image and take the matrix's largest singular value."""
    in_c = kernel.shape[1]
    reach = dilation * (kernel.shape[-1] - 1)
    basis = torch.eye(in_c * n * n, dtype=torch.float64).reshape(-1, in_c, n, n)
    padded = F.pad(basis, (reach // 2, reach - reach // 2) * 2, mode="circular")
    out = F.conv2d(padded, kernel.double(), stride=stride, dilation=dilation)
    return float(torch.linalg.matrix_norm(out.reshape(len(basis), -1), ord=2))


@pytest.mark.parametrize("out_c,in_c,n,stride,dilation", [
    (2, 3, 8, 1, 1), (3, 2, 8, 2, 1), (2, 2, 8, 1, 2), (4, 3, 12, 2, 1), (1, 1, 8, 2, 2), (3, 3, 9, 3, 1),
])
def test_matches_dense_matrix(out_c, in_c, n, stride, dilation):
    kernel = torch.randn(out_c, in_c, 3, 3, generator=torch.Generator().manual_seed(n + stride + dilation))
    expected = dense_operator_norm(kernel, n, stride, dilation)
    assert strided_conv_operator_norm(kernel, n, stride, dilation) == pytest.approx(expected, rel=1e-5)
    assert expected <= conv_norm_upper_bound(kernel) * (1 + 1e-9)


def test_all_ones_kernel_reference():
    assert strided_conv_operator_norm(np.ones((1, 1, 3, 3)), 8) == pytest.approx(9.0)


@pytest.mark.parametrize("kwargs,name", [(dict(n=7, stride=2), "n"), (dict(n=8, stride=0), "stride"),
                                         (dict(n=8, dilation=9), "dilation")])
def test_bad_arguments_name_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        strided_conv_operator_norm(torch.ones(1, 1, 3, 3), **kwargs)
