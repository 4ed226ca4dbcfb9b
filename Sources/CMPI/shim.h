// Open MPI's C API (pkg-config ompi-c). Its handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...)
// are macros that take the address of a global, which Swift cannot import: the functions
// below return them.
#include <mpi.h>

static inline MPI_Comm lsr_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype lsr_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype lsr_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype lsr_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype lsr_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Op lsr_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op lsr_mpi_max(void) { return MPI_MAX; }
static inline MPI_Errhandler lsr_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline void *lsr_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline int lsr_mpi_success(void) { return MPI_SUCCESS; }
static inline int lsr_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline int lsr_mpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
static inline int lsr_mpi_max_library_version_string(void) { return MPI_MAX_LIBRARY_VERSION_STRING; }
