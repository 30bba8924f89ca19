"""The load test behind bench/load_test.py: `harness` runs it (server, sampling, the load, the figures),
a client plays each student (`chromium_client`: real browsers; `protocol_client`: Streamlit's WebSocket
protocol, no drawing), and `lesson` says what every student does; `classroom` is the class scenario
(a presenter and students sharing one class's predictions)."""
