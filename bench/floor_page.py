"""Streamlit's floor for bench/bench_interaction.py: one slider and one Plotly chart of 1,000 points,
nothing else. Whatever Noise Lab's pages cost beyond this page is the app's own doing.

    streamlit run bench/floor_page.py
"""

import numpy as np
import plotly.graph_objects as go
import streamlit as st

shift = st.slider("Shift", 0, 100, 50, key="shift")
x = np.linspace(0, 10, 1000)
st.plotly_chart(go.Figure(go.Scatter(x=x, y=np.sin(x + shift / 10), mode="markers")))
