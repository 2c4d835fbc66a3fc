"""The registered analyzers: one class per module, one registration line each."""

from __future__ import annotations

from harness.analysis.analyzers.bandit_hints import BanditAnalyzer
from harness.analysis.analyzers.gaming import GamingAnalyzer
from harness.analysis.analyzers.radon_metrics import RadonAnalyzer
from harness.analysis.registry import register

register(BanditAnalyzer)
register(RadonAnalyzer)
register(GamingAnalyzer)

__all__ = ["BanditAnalyzer", "GamingAnalyzer", "RadonAnalyzer"]
