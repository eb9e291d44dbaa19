"""Writes notebooks/03_explain_flagged.ipynb (no outputs). Same conventions as tools/make_notebooks.py."""
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
KERNEL = {"display_name": "Python (okml)", "language": "python", "name": "okml"}

params = new_code_cell(
    "# Reviewers' report: the day's flagged payments, why each was flagged, for data scientists\n"
    "# the global picture at the end. Run by `okml report` (papermill, code hidden in the HTML);\n"
    "# headings and prose come from okml.report in `language` (en | zh).\n"
    "# scored_path: Parquet from `okml score`; date: UTC day YYYY-MM-DD (None: the file's last)\n"
    "scored_path = 'data/scored/transactions.parquet'\n"
    "model_uri = 'models:/okpay-fraud@champion'\n"
    "date = None\n"
    "n_cases = 50\n"
    "language = 'en'\n"
    "params_file = None\n"
    "overrides = []")
params.metadata["tags"] = ["parameters"]

cells = [
    params,
    new_code_cell(
        "import warnings\n\n"
        "from IPython.display import HTML, display\n"
        "from tqdm import TqdmWarning\n\n"
        "# okml's progress bars are off here; without ipywidgets, importing tqdm.auto would print\n"
        "# 'IProgress not found' into the reviewers' report\n"
        "warnings.filterwarnings('ignore', category=TqdmWarning)\n\n"
        "from okml import report  # noqa: E402\n\n"
        "rep = report.prepare(scored_path, model_uri, date=date, n_cases=n_cases, language=language,\n"
        "                     params_file=params_file, overrides=overrides)\n"
        "display(HTML(report.header_html(rep)))"),
    new_code_cell("display(HTML(report.cases_table_html(rep)))"),
    new_code_cell("for i in range(len(rep.cases)):\n"
                  "    display(HTML(report.case_html(rep, i)))"),
    new_code_cell("display(HTML(report.data_science_html(rep)))"),
]
nb = new_notebook(cells=cells)
nb.metadata["kernelspec"] = KERNEL
nb.metadata["language_info"] = {"name": "python"}
for i, c in enumerate(nb.cells):
    c["id"] = f"cell-{i:02d}"
nbformat.validate(nb)
nbformat.write(nb, str(ROOT / "notebooks" / "03_explain_flagged.ipynb"))
