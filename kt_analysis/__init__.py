"""kt-analysis: who is affected by a telecom incident, what is owed, and when it is settled.

    import kt_analysis as kt
    incident = kt.load_incident("data/incidents/kt-2021-10-25-nationwide.yml")
"""

__version__ = "0.1.0"

from kt_analysis.errors import InputError, KtAnalysisError, ParameterError, RunError  # noqa: E402
from kt_analysis.inputs.incident import Incident, load_incident  # noqa: E402
from kt_analysis.inputs.policy import Policy, load_policy  # noqa: E402

__all__ = [
    "Incident", "InputError", "KtAnalysisError", "ParameterError", "Policy", "RunError",
    "__version__", "load_incident", "load_policy",
]
from kt_analysis.jobs.explore import open_view  # noqa: E402
from kt_analysis.report.present import use_report_style  # noqa: E402
from kt_analysis.report.view import IncidentView  # noqa: E402
from kt_analysis.summary.model import BillingSummary, OutageSummary, SummaryError, load_summary  # noqa: E402

__all__ += ["BillingSummary", "IncidentView", "OutageSummary", "SummaryError", "load_summary", "open_view",
            "use_report_style"]
from kt_analysis.jobs.what_if import sensitivity, what_if  # noqa: E402
from kt_analysis.report.sensitivity import sensitivity_heatmap  # noqa: E402

__all__ += ["sensitivity", "sensitivity_heatmap", "what_if"]
