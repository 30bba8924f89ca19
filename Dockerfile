# Noise Lab in one image: CPU torch, Streamlit on port 8501, Chromium for Kaleido's PNG/SVG export.
#
#   docker build -t noise-lab .
#   docker run --rm -p 8501:8501 noise-lab                 # then open http://localhost:8501
#   docker run --rm -p 8502:8501 -e NOISE_LAB_THREADS=1 --cpus 1 noise-lab   # one replica per core
#
# Settings (docs/DEPLOY.md): NOISE_LAB_THREADS (torch threads per process, default 1),
# NOISE_LAB_DEVICE (auto | cpu | cuda; this image has the CPU build of torch), BROWSER_PATH (the
# Chromium Kaleido drives). Any Streamlit option can be added after the image name, e.g.
#   docker run ... noise-lab streamlit run app.py --server.address=0.0.0.0 --server.disconnectedSessionTTL=60
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NOISE_LAB_THREADS=1 \
    BROWSER_PATH=/usr/bin/chromium

# Debian's Chromium: Kaleido renders the PNG/SVG downloads and the figure pack with it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# requirements.txt names PyTorch's CPU index itself, so this image gets the same CPU build of torch as
# the README's first command, and no CUDA libraries.
COPY requirements.txt .
RUN pip install -r requirements.txt

# The app only (tests, benchmarks and docs are not needed to serve it).
COPY .streamlit/ .streamlit/
COPY app.py ./
COPY pages/ pages/
COPY ui/ ui/
COPY server/ server/
COPY explainers/ explainers/
COPY classroom/ classroom/
# The browser's copy of plotly.js (ui/live_chart.py), written now: the app folder is read-only to the app's user.
RUN python -c "import sys; from ui.live_chart import write_plotly_js; sys.exit(write_plotly_js() is None)"

RUN useradd --create-home --uid 10001 noiselab
USER noiselab

EXPOSE 8501
# Streamlit's own health endpoint answers "ok" once the server is up.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).read() != b'ok')"

CMD ["streamlit", "run", "app.py", "--server.address=0.0.0.0"]
